# adcs_probe.ps1 — read-only checks before a renewal: certreq.exe and the
# Task Scheduler are there, the current certificate ($P.thumbprint, may be
# empty) is in the store with its private key, the chain it builds to (the
# CA certificates, for checks that verify chains), and when $P.discover is
# true NDES's CA (MSCEP\CAInfo, a local registry value) and the output of
# `certutil -dump` (the CA configurations; in this SSH session it may fail
# for lack of network credentials; AD is read by the SYSTEM task).
$storePath = rdw_store ([string]$P.store)
$res = [ordered]@{ certreq = $false; scheduler = $null; found = $false; has_key = $false; chain = @(); dump = $null; dump_exit = $null; cainfo = $null }
$res.certreq = [bool](Get-Command -Name 'certreq.exe' -CommandType Application -ErrorAction SilentlyContinue)
$svc = Get-Service -Name 'Schedule' -ErrorAction SilentlyContinue
if ($svc) { $res.scheduler = [string]$svc.Status }
if ([string]$P.thumbprint) {
  $c = rdw_find $storePath (rdw_thumb ([string]$P.thumbprint) 'current certificate')
  if ($c) {
    $res.found = $true
    $res.has_key = [bool]$c.HasPrivateKey
    $chain = New-Object System.Security.Cryptography.X509Certificates.X509Chain
    $chain.ChainPolicy.RevocationMode = 'NoCheck'
    [void]$chain.Build($c)
    $res.chain = @(for ($i = 1; $i -lt $chain.ChainElements.Count; $i++) { [System.Convert]::ToBase64String($chain.ChainElements[$i].Certificate.RawData) })
  }
}
if ($P.discover -eq $true) {
  $ci = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP\CAInfo' -Name Configuration -ErrorAction SilentlyContinue
  if ($ci) { $res.cainfo = [string]$ci.Configuration }
  $d = rdw_native 'certutil.exe' @('-dump')
  $res.dump = $d.text
  $res.dump_exit = $d.exit
}
rd_out $res
