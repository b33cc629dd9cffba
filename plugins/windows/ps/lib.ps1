# lib.ps1 — helpers every windows.* and adcs.* script starts with (after the
# prelude of orchestrator/remote.c, which gives $P, rd_out and rd_fail).
# Values from $P are data: each is validated here again before use, and
# native programs get them as separate arguments, never as code.

# A 40-digit hex thumbprint, uppercase (Windows' spelling); else rd_fail.
function rdw_thumb([string]$Value, [string]$What) {
  if ($Value -notmatch '^[0-9A-Fa-f]{40}$') { rd_fail "$What '$Value' is not a 40-digit hex thumbprint" }
  return $Value.ToUpperInvariant()
}

# "LocalMachine\My" -> "Cert:\LocalMachine\My".
function rdw_store([string]$Name) {
  if ($Name -notmatch '^LocalMachine\\[A-Za-z0-9 _.-]+$') { rd_fail "certificate store '$Name' is not LocalMachine\<name>" }
  return 'Cert:\' + $Name
}

# Seconds since 1970 (UTC) of a DateTime.
function rdw_epoch([datetime]$When) {
  $zero = New-Object DateTime 1970, 1, 1, 0, 0, 0, ([DateTimeKind]::Utc)
  return [long][Math]::Floor(($When.ToUniversalTime() - $zero).TotalSeconds)
}

# The certificate with this thumbprint in a Cert:\ store, or $null.
function rdw_find([string]$StorePath, [string]$Thumb) {
  return Get-ChildItem -Path $StorePath | Where-Object { $_.Thumbprint -eq $Thumb } | Select-Object -First 1
}

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

# Runs a native program with its arguments as an array (PowerShell quotes
# each one), stderr folded into the text: {exit, text}.
function rdw_native([string]$Exe, [string[]]$ArgList) {
  $ErrorActionPreference = 'Continue'
  $lines = & $Exe @ArgList 2>&1 | ForEach-Object { [string]$_ }
  return [ordered]@{ exit = $LASTEXITCODE; text = ($lines -join "`r`n") }
}
