# cert_lib.ps1 — what a script reports of a certificate in a store (after
# lib.ps1, for the scripts that list certificates or find key files).

# Where the private key of a certificate lives: CAPI keys are files named
# by UniqueKeyContainerName under Crypto\RSA\MachineKeys, CNG keys files
# named by the key's UniqueName under Crypto\Keys.
function rdw_keyinfo($Cert) {
  $k = [ordered]@{ provider = $null; container = $null; path = $null; exists = $false }
  if (-not $Cert.HasPrivateKey) { return $k }
  $key = $null
  try { $key = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($Cert) } catch { $key = $null }
  if (-not $key) {
    try { $key = [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPrivateKey($Cert) } catch { $key = $null }
  }
  $base = Join-Path $env:ProgramData 'Microsoft\Crypto'
  if ($key -and $key.PSObject.Properties['Key'] -and $key.Key) {
    $k.provider = 'CNG'
    $k.container = [string]$key.Key.UniqueName
    $k.path = Join-Path (Join-Path $base 'Keys') $k.container
  } elseif ($key -and $key.PSObject.Properties['CspKeyContainerInfo']) {
    $k.provider = 'CAPI'
    $k.container = [string]$key.CspKeyContainerInfo.UniqueKeyContainerName
    $k.path = Join-Path (Join-Path $base 'RSA\MachineKeys') $k.container
  }
  if ($k.path) { $k.exists = [bool](Test-Path -LiteralPath $k.path) }
  if ($key -is [System.IDisposable]) { $key.Dispose() }
  return $k
}

# What the orchestrator needs of one certificate: the DER (it parses it
# itself), the private key's whereabouts, and the formatted v2 template
# extension (its display name; the OID in it is checked against the DER).
function rdw_certinfo($Cert) {
  $hint = $null
  $ext = $Cert.Extensions | Where-Object { $_.Oid.Value -eq '1.3.6.1.4.1.311.21.7' } | Select-Object -First 1
  if ($ext) { try { $hint = $ext.Format($false) } catch { $hint = $null } }
  return [ordered]@{
    thumbprint = $Cert.Thumbprint
    raw = [System.Convert]::ToBase64String($Cert.RawData)
    has_key = [bool]$Cert.HasPrivateKey
    key = (rdw_keyinfo $Cert)
    friendly_name = [string]$Cert.FriendlyName
    template_hint = $hint
  }
}
