# service_run.ps1 — `iisreset /restart /timeout:N`, or Restart-Service
# -Force and a wait of at most $P.timeout seconds for Running.
# {started_at (this host's clock, before the restart), exit, text, status}.
$name = rdw_service_name
$timeout = [int]$P.timeout
if ($timeout -lt 1 -or $timeout -gt 3600) { $timeout = 90 }
$res = [ordered]@{ started_at = (rdw_epoch ([DateTime]::UtcNow)); exit = 0; text = ''; status = $null }
if ($P.action -eq 'iisreset') {
  $r = rdw_native (Join-Path $env:windir 'System32\iisreset.exe') @('/restart', ('/timeout:' + $timeout))
  $res.exit = $r.exit
  $res.text = $r.text
} else {
  $svc = Get-Service -Name $name
  try {
    Restart-Service -InputObject $svc -Force -WarningAction SilentlyContinue
    $svc.WaitForStatus('Running', (New-TimeSpan -Seconds $timeout))
  } catch {
    $res.exit = 1
    $res.text = $_.Exception.Message
  }
}
$svc = Get-Service -Name $name -ErrorAction SilentlyContinue
if ($svc) { $res.status = [string]$svc.Status }
rd_out $res
