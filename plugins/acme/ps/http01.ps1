# http01.ps1 (acme.win.http01) — the http-01 answer under the IIS site's
# physical path ($P.site, resolved through WebAdministration, or $P.webroot):
# .well-known\acme-challenge\TOKEN holds the key authorization ($P.action
# put), with a web.config there that serves extensionless files as
# text/plain (IIS serves no file whose extension has no MIME type); remove
# deletes the file again (the web.config stays, it serves nothing else).
# https://learn.microsoft.com/iis/configuration/system.webserver/staticcontent/mimemap
$token = [string]$P.token
if ($token -notmatch '^[A-Za-z0-9_-]{1,256}\z') { rd_fail "token '$token': not base64url" }
if ([string]$P.site) {
  Import-Module WebAdministration -ErrorAction Stop
  $site = Get-Website -Name ([string]$P.site)
  if (-not $site) { rd_fail "IIS site '$($P.site)' does not exist" }
  $root = [System.Environment]::ExpandEnvironmentVariables([string]$site.physicalPath)
} else {
  $root = [string]$P.webroot
}
if ($root -notmatch '^[A-Za-z]:\\' -or $root.Contains('..')) { rd_fail "web root '$root' is not an absolute path" }
$dir = Join-Path (Join-Path $root '.well-known') 'acme-challenge'
$file = Join-Path $dir $token
if ([string]$P.action -eq 'put') {
  if (-not (Test-Path -LiteralPath $root -PathType Container)) { rd_fail "web root $root`: not a directory" }
  if (-not (Test-Path -LiteralPath $dir)) { [void](New-Item -ItemType Directory -Path $dir -Force) }
  $cfg = Join-Path $dir 'web.config'
  if (-not (Test-Path -LiteralPath $cfg)) {
    $xml = '<?xml version="1.0" encoding="UTF-8"?><configuration><system.webServer><staticContent>' +
      '<mimeMap fileExtension="." mimeType="text/plain" /></staticContent></system.webServer></configuration>'
    Set-Content -LiteralPath $cfg -Value $xml -Encoding Ascii -NoNewline
  }
  Set-Content -LiteralPath $file -Value ([string]$P.keyauth) -Encoding Ascii -NoNewline
  rd_out ([ordered]@{ path = $file })
} elseif ([string]$P.action -eq 'remove') {
  if (Test-Path -LiteralPath $file) { Remove-Item -LiteralPath $file -Force }
  rd_out ([ordered]@{ removed = $file })
} else {
  rd_fail "action '$($P.action)' is not put or remove"
}
