# adcs_cleanup.ps1 — undoes what adcs_new left behind when no certificate
# came of it: the pending request's key pair in the REQUEST store (with
# -DeleteKey) and the work directory.
$removed = @()
foreach ($t in @($P.request_thumbprints)) {
  if (-not $t) { continue }
  $t = rdw_thumb ([string]$t) 'request'
  $path = 'Cert:\LocalMachine\REQUEST\' + $t
  if (Test-Path -LiteralPath $path) {
    Remove-Item -LiteralPath $path -DeleteKey
    $removed += $t
  }
}
$dirRemoved = $false
if ([string]$P.nonce) {
  $dir = Join-Path (Join-Path $env:ProgramData 'renewd') ('adcs-' + [string]$P.nonce)
  if ([string]$P.nonce -match '^[0-9a-f]{16}\z' -and (Test-Path -LiteralPath $dir)) {
    Remove-Item -LiteralPath $dir -Recurse -Force
    $dirRemoved = $true
  }
}
rd_out ([ordered]@{ removed = $removed; dir_removed = $dirRemoved })
