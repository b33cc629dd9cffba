# service_probe.ps1 — {exists, status, start_type, iisreset, now}: the
# service's state and, for "iisreset", whether iisreset.exe is there.
$name = rdw_service_name
$res = [ordered]@{ name = $name; exists = $false; status = $null; start_type = $null; iisreset = $false; now = (rdw_epoch ([DateTime]::UtcNow)) }
$svc = Get-Service -Name $name -ErrorAction SilentlyContinue
if ($svc) {
  $res.exists = $true
  $res.status = [string]$svc.Status
  $res.start_type = [string]$svc.StartType
}
if ($P.action -eq 'iisreset') { $res.iisreset = [bool](Test-Path -LiteralPath (Join-Path $env:windir 'System32\iisreset.exe')) }
rd_out $res
