# iis_lib.ps1 — the one IIS binding windows.iis_binding manages:
# site $P.site, protocol $P.protocol, port $P.port, host header $P.host.
function rdw_binding() {
  Import-Module WebAdministration -ErrorAction Stop
  $site = [string]$P.site
  if (-not (Get-Website -Name $site)) { rd_fail "IIS site '$site' does not exist" }
  $args2 = @{ Name = $site; Protocol = [string]$P.protocol; Port = [int]$P.port }
  if ([string]$P.host) { $args2.HostHeader = [string]$P.host }
  return @(Get-WebBinding @args2)
}
