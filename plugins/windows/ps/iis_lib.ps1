# iis_lib.ps1 — the one IIS binding windows.iis_binding manages:
# site $P.site, protocol $P.protocol, port $P.port, host header $P.host.
# Callers wrap the result in @( ): one binding must stay an array (a
# binding object has a string indexer, so $b[0] on it is not the binding).
function rdw_binding() {
  Import-Module WebAdministration -ErrorAction Stop
  $site = [string]$P.site
  if (-not (Get-Website -Name $site)) { rd_fail "IIS site '$site' does not exist" }
  $args2 = @{ Name = $site; Protocol = [string]$P.protocol; Port = [int]$P.port }
  if ([string]$P.host) { $args2.HostHeader = [string]$P.host }
  return @(Get-WebBinding @args2)
}
