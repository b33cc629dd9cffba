# cert_lib.ps1 — what a script reports of a certificate in a store (after
# lib.ps1, for the scripts that list certificates or find key files).

# The facts about a certificate's private key; plugins/windows/keyfile.c
# decides from them which file holds it (windows_keyfile.h cites the
# documentation). The provider comes from the certificate's
# CERT_KEY_PROV_INFO_PROP_ID (2), read with CertGetCertificateContextProperty
# (https://learn.microsoft.com/windows/win32/api/wincrypt/nf-wincrypt-certgetcertificatecontextproperty):
# a CRYPT_KEY_PROV_INFO whose dwProvType is 0 for a CNG key storage provider,
# a CryptoAPI provider type otherwise. Never from the .NET wrapper type:
# on .NET Framework 4.6+ GetRSAPrivateKey returns an RSACng for CAPI keys too.
# The unique (file) name: CspKeyContainerInfo.UniqueKeyContainerName for a
# CAPI key, CngKey.UniqueName for a CNG key. "files": which of the machine
# key folders under %ProgramData%\Microsoft\Crypto hold a file of that name.
function rdw_keyinfo($Cert) {
  $k = [ordered]@{ prov_type = $null; prov_name = $null; container = $null; flags = $null; key_spec = $null
    unique_name = $null; crypto_dir = (Join-Path $env:ProgramData 'Microsoft\Crypto'); files = @(); error = $null }
  if (-not $Cert.HasPrivateKey) { return $k }
  if (-not ('RenewdKeyProvInfo' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
public static class RenewdKeyProvInfo {
  [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
  struct CRYPT_KEY_PROV_INFO {
    public string pwszContainerName; public string pwszProvName; public uint dwProvType;
    public uint dwFlags; public uint cProvParam; public IntPtr rgProvParam; public uint dwKeySpec;
  }
  [DllImport("crypt32.dll", SetLastError = true)]
  static extern bool CertGetCertificateContextProperty(IntPtr ctx, uint id, IntPtr data, ref uint size);
  public static object[] Get(IntPtr ctx) {
    uint size = 0;
    if (!CertGetCertificateContextProperty(ctx, 2, IntPtr.Zero, ref size)) return null;
    IntPtr buf = Marshal.AllocHGlobal((int)size);
    try {
      if (!CertGetCertificateContextProperty(ctx, 2, buf, ref size)) return null;
      CRYPT_KEY_PROV_INFO i = (CRYPT_KEY_PROV_INFO)Marshal.PtrToStructure(buf, typeof(CRYPT_KEY_PROV_INFO));
      return new object[] { i.pwszContainerName, i.pwszProvName, (long)i.dwProvType, (long)i.dwFlags, (long)i.dwKeySpec };
    } finally { Marshal.FreeHGlobal(buf); }
  }
}
'@
  }
  $info = [RenewdKeyProvInfo]::Get($Cert.Handle)
  if (-not $info) { $k.error = 'the certificate has no CERT_KEY_PROV_INFO property'; return $k }
  $k.container = [string]$info[0]; $k.prov_name = [string]$info[1]
  $k.prov_type = [long]$info[2]; $k.flags = [long]$info[3]; $k.key_spec = [long]$info[4]
  $machine = ($k.flags -band 0x20) -ne 0
  try { $k.unique_name = [string](rdw_key_unique_name_of $k.prov_type $k.prov_name $k.container $machine) } catch { $k.error = $_.Exception.Message }
  if ($k.unique_name -and $k.unique_name -notmatch '[\\/]') {
    $k.files = @(foreach ($d in 'Keys', 'RSA\MachineKeys', 'DSS\MachineKeys') {
      if (Test-Path -LiteralPath (Join-Path (Join-Path $k.crypto_dir $d) $k.unique_name)) { $d }
    })
  }
  return $k
}

# The unique (file) name of an existing key container (throws when there
# is none). Windows-only .NET types: the emulated host replaces it.
function rdw_key_unique_name_of([long]$ProvType, [string]$ProvName, [string]$Container, [bool]$Machine) {
  if ($ProvType -ne 0) {
    $csp = New-Object System.Security.Cryptography.CspParameters ([int]$ProvType), $ProvName, $Container
    $csp.Flags = [System.Security.Cryptography.CspProviderFlags]::UseExistingKey
    if ($Machine) { $csp.Flags = $csp.Flags -bor [System.Security.Cryptography.CspProviderFlags]::UseMachineKeyStore }
    return [string](New-Object System.Security.Cryptography.CspKeyContainerInfo $csp).UniqueKeyContainerName
  }
  $opt = [System.Security.Cryptography.CngKeyOpenOptions]::None
  if ($Machine) { $opt = [System.Security.Cryptography.CngKeyOpenOptions]::MachineKey }
  $ck = [System.Security.Cryptography.CngKey]::Open($Container, (New-Object System.Security.Cryptography.CngProvider $ProvName), $opt)
  try { return [string]$ck.UniqueName } finally { $ck.Dispose() }
}

# Adds certificate $Cert (without its key) to the store LocalMachine\$Name
# (X509Store; the emulated host replaces it).
function rdw_store_add_of([string]$Name, $Cert) {
  $s = New-Object System.Security.Cryptography.X509Certificates.X509Store $Name, 'LocalMachine'
  $s.Open('ReadWrite')
  try { $s.Add($Cert) } finally { $s.Close() }
}

# Which certificates something on this host serves, by thumbprint -> what:
# the TLS bindings of HTTP.sys (IIS https bindings among them), which it
# keeps under HKLM\SYSTEM\CurrentControlSet\Services\HTTP\Parameters in
# SslBindingInfo\<ip:port> and SslSniBindingInfo\<host:port> (value
# SslCertHash, the SHA-1 hash; what `netsh http show sslcert` prints, read
# here without netsh's localised labels), and the RDP listener's
# SSLCertificateSHA1Hash (Terminal Server\WinStations\RDP-Tcp).
function rdw_usage_add($Map, $Hash, [string]$What) {
  if ($Hash -is [byte[]] -and $Hash.Length -eq 20) {
    $t = [System.BitConverter]::ToString($Hash).Replace('-', '')
    $Map[$t] = @($Map[$t] | Where-Object { $_ }) + $What
  }
}
function rdw_usage() {
  $u = @{}
  # no registry off Windows (the project's test host): nothing is served
  if ([System.Environment]::OSVersion.Platform -ne [System.PlatformID]::Win32NT) { return $u }
  $lm = [Microsoft.Win32.Registry]::LocalMachine
  foreach ($kind in 'SslBindingInfo', 'SslSniBindingInfo') {
    $k = $lm.OpenSubKey('SYSTEM\CurrentControlSet\Services\HTTP\Parameters\' + $kind)
    if (-not $k) { continue }
    try {
      foreach ($n in $k.GetSubKeyNames()) {
        $b = $k.OpenSubKey($n)
        if ($b) { try { rdw_usage_add $u $b.GetValue('SslCertHash') ('HTTP.sys binding ' + $n) } finally { $b.Close() } }
      }
    } finally { $k.Close() }
  }
  $r = $lm.OpenSubKey('SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp')
  if ($r) { try { rdw_usage_add $u $r.GetValue('SSLCertificateSHA1Hash') 'the RDP listener (RDP-Tcp)' } finally { $r.Close() } }
  return $u
}

# What the orchestrator needs of one certificate: the DER (it parses it
# itself), the private key's whereabouts, the formatted v2 template
# extension (its display name; the OID in it is checked against the DER),
# and what uses it ($Usage from rdw_usage; none when not given).
function rdw_certinfo($Cert, $Usage) {
  $hint = $null
  $ext = $Cert.Extensions | Where-Object { $_.Oid.Value -eq '1.3.6.1.4.1.311.21.7' } | Select-Object -First 1
  if ($ext) { try { $hint = $ext.Format($false) } catch { $hint = $null } }
  $uses = @()
  if ($Usage -and $Usage.ContainsKey([string]$Cert.Thumbprint)) { $uses = @($Usage[[string]$Cert.Thumbprint]) }
  return [ordered]@{
    thumbprint = $Cert.Thumbprint
    raw = [System.Convert]::ToBase64String($Cert.RawData)
    has_key = [bool]$Cert.HasPrivateKey
    key = (rdw_keyinfo $Cert)
    friendly_name = [string]$Cert.FriendlyName
    template_hint = $hint
    uses = $uses
  }
}
