# ndes_getcacaps.ps1 — one SCEP GetCACaps request to NDES at $P.url from
# this host, which also makes IIS load the NDES application (it loads on
# the first request, and only then logs Event 1). Read-only. The outcome is
# decided in C (plugins/windows/ndes_getcacaps.c) from the HTTP status and
# the answer's lines; the .NET message is a hint only (it is localised).
# {status (HTTP status, 0: no HTTP answer), web_status (WebExceptionStatus
#  name, not localised), caps: [lines], error}.
$url = [string]$P.url
if ($url -notmatch '^https?://[A-Za-z0-9.:\[\]-]+/certsrv/mscep/mscep\.dll/pkiclient\.exe\?operation=GetCACaps\z') { rd_fail "url '$url' is not an NDES GetCACaps URL" }
$timeout = [int]$P.timeout
if ($timeout -lt 1 -or $timeout -gt 600) { $timeout = 60 }
$res = [ordered]@{ status = 0; web_status = $null; caps = @(); error = $null }
try {
  $r = Invoke-WebRequest -Uri $url -UseBasicParsing -TimeoutSec $timeout -MaximumRedirection 0
  $res.status = [int]$r.StatusCode
  $body = $r.Content
  if ($body -is [byte[]]) { $body = [System.Text.Encoding]::ASCII.GetString($body) }
  $res.caps = @(([string]$body) -split "`r?`n" | ForEach-Object { $_.Trim() } | Where-Object { $_ -ne '' } | Select-Object -First 32)
} catch {
  $ex = $_.Exception
  while ($ex -and -not ($ex -is [System.Net.WebException]) -and $ex.InnerException) { $ex = $ex.InnerException }
  if ($ex -is [System.Net.WebException]) {
    $res.web_status = [string]$ex.Status
    if ($ex.Response) { $res.status = [int]$ex.Response.StatusCode }
  }
  $res.error = [string]$_.Exception.Message
}
rd_out $res
