# accept.ps1 (acme.win.accept, first part) — the issued chain into place
# for adcs_accept.ps1, which follows it in the same script: the leaf
# ($P.leaf, base64 DER) as renewal.cer in the work directory (adcs_accept
# runs `certreq -accept -machine -q` on it, which links it to the pending
# key of the REQUEST store and moves it to LocalMachine\My), the CA
# certificates ($P.chain) into LocalMachine\CA so that the chain builds.
# https://learn.microsoft.com/windows-server/administration/windows-commands/certreq_1
# https://learn.microsoft.com/powershell/module/pki/import-certificate?view=windowsserver2022-ps
$acmeDir = rdw_workdir ([string]$P.nonce)
$acmeLeaf = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2 (, [System.Convert]::FromBase64String([string]$P.leaf))
[System.IO.File]::WriteAllBytes((Join-Path $acmeDir 'renewal.cer'), $acmeLeaf.RawData)
$acmeCas = @()
$acmeI = 0
foreach ($b in @($P.chain)) {
  if (-not $b) { continue }
  $x = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2 (, [System.Convert]::FromBase64String([string]$b))
  if ($x.Subject -eq $x.Issuer) { continue }
  $acmeI++
  $f = Join-Path $acmeDir ('ca-' + $acmeI + '.cer')
  [System.IO.File]::WriteAllBytes($f, $x.RawData)
  [void](Import-Certificate -FilePath $f -CertStoreLocation 'Cert:\LocalMachine\CA')
  $acmeCas += $x.Thumbprint
}
