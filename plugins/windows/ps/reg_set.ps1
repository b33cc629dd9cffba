# reg_set.ps1 — replaces a registry value, guarded: it is written only
# while it still holds $P.expect (text compared case-insensitively without
# spaces; binary as hex); when it already holds $P.new nothing is written.
# {state: set|already|mismatch, found: the value before}.
$path = rdw_regpath ([string]$P.key)
$name = [string]$P.value
if (-not $name) { rd_fail 'no registry value name' }
$kind = [string]$P.kind
if (@('REG_SZ', 'REG_BINARY') -notcontains $kind) { rd_fail "registry value type '$kind' is not REG_SZ or REG_BINARY" }
$cur = rdw_regread $path $name
if (-not $cur.exists) { rd_fail "$($P.key)\$name does not exist" }
$wantKind = 'String'
if ($kind -eq 'REG_BINARY') { $wantKind = 'Binary' }
if ($cur.kind -ne $wantKind) { rd_fail "$($P.key)\$name is $($cur.kind), not $kind" }
function rdw_norm([string]$v) { return ($v -replace '\s', '').ToUpperInvariant() }
$found = $cur.text
if ($kind -eq 'REG_BINARY') { $found = $cur.hex }
$state = 'set'
if ((rdw_norm $found) -eq (rdw_norm ([string]$P.new))) {
  $state = 'already'
} elseif ((rdw_norm $found) -ne (rdw_norm ([string]$P.expect))) {
  $state = 'mismatch'
} elseif ($kind -eq 'REG_BINARY') {
  $h = [string]$P.new
  if ($h -notmatch '^([0-9A-Fa-f]{2})*\z') { rd_fail "new value '$h' is not hex bytes" }
  $bytes = [byte[]]@(for ($i = 0; $i -lt $h.Length; $i += 2) { [System.Convert]::ToByte($h.Substring($i, 2), 16) })
  Set-ItemProperty -LiteralPath $path -Name $name -Value $bytes -Type Binary
} else {
  Set-ItemProperty -LiteralPath $path -Name $name -Value ([string]$P.new) -Type String
}
rd_out ([ordered]@{ state = $state; found = $found })
