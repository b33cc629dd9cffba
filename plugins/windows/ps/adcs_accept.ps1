# adcs_accept.ps1 — `certreq -accept -machine -q renewal.cer` (unless the
# certificate is already in the store with its key: a re-run after a
# crash), then the installed certificate, its key and chain. The work
# directory goes once the certificate is in place.
$storePath = rdw_store ([string]$P.store)
$dir = rdw_workdir ([string]$P.nonce)
$cer = Join-Path $dir 'renewal.cer'
if (-not (Test-Path -LiteralPath $cer)) { rd_fail "the issued certificate $cer is missing" }
$x = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2 (rdw_path_of $cer)
$thumb = $x.Thumbprint
$res = [ordered]@{ thumbprint = $thumb; accepted = $false; exit = $null; text = ''; found = $false; cert = $null; chain = @() }
$c = rdw_find $storePath $thumb
if (-not $c -or -not $c.HasPrivateKey) {
  $a = rdw_native 'certreq.exe' @('-accept', '-machine', '-q', $cer)
  $res.accepted = $true
  $res.exit = $a.exit
  $res.text = $a.text
  $c = rdw_find $storePath $thumb
}
if ($c) {
  $res.found = $true
  $res.cert = rdw_certinfo $c
  $chain = New-Object System.Security.Cryptography.X509Certificates.X509Chain
  $chain.ChainPolicy.RevocationMode = 'NoCheck'
  [void]$chain.Build($c)
  $res.chain = @(for ($i = 1; $i -lt $chain.ChainElements.Count; $i++) { [System.Convert]::ToBase64String($chain.ChainElements[$i].Certificate.RawData) })
  if ($c.HasPrivateKey) { Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue }
}
rd_out $res
