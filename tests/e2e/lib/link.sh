# tests/e2e/lib/link.sh — a lab host's link taken down and brought back,
# for the fault tests (sourced, not a test itself). The lab hosts share one
# network namespace on its loopback, so "down" is an nftables table there
# that drops every packet to or from the host's address: connections to it
# hang (as on a dead link, no refusal), established ones stop answering.
# Needs LAB (contrib/lab/lab) and LAB_INVENTORY (the lab's lab.env), and
# nft (contrib/deps.sh installs nftables).

# link_addr HOST: the host's address in the lab
link_addr() { jq -r --arg h "$1" '.hosts[$h].address' "$LAB_INVENTORY"; }

# link_down HOST: drop everything to and from HOST (until link_up)
link_down() {
	local a
	a=$(link_addr "$1") || return 1
	"$LAB" exec -- nft -f - <<-NFT
		table ip renewd_link_$1 {
			chain input { type filter hook input priority -10; ip daddr $a drop; ip saddr $a drop; }
		}
	NFT
}

# link_up HOST: the host's packets flow again
link_up() { "$LAB" exec -- nft delete table ip "renewd_link_$1" 2>/dev/null; }
