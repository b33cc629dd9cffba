# cert_lib.ps1 (rdw_keyinfo, rdw_usage_add, rdw_certinfo), as built into
# windows.store.list. The Windows boundary is mocked:
# - crypt32's CertGetCertificateContextProperty(ctx, CERT_KEY_PROV_INFO_PROP_ID)
#   (https://learn.microsoft.com/windows/win32/api/wincrypt/nf-wincrypt-certgetcertificatecontextproperty):
#   the type the script would Add-Type, RenewdKeyProvInfo, is defined here
#   first (the script only adds it when it is missing), its Get answering
#   from $global:RenewdTestProv — {container, provider, type, flags, key spec}
#   of a CRYPT_KEY_PROV_INFO
#   (https://learn.microsoft.com/windows/win32/api/wincrypt/ns-wincrypt-crypt_key_prov_info),
#   or $null (no property);
# - the machine key folders: Test-Path/Join-Path mocked.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Get-RenewdFunctions 'windows.store.list')
  if (-not ('RenewdKeyProvInfo' -as [type])) {
    Add-Type -TypeDefinition @'
public static class RenewdKeyProvInfo {
  public static object[] Answer;
  public static object[] Get(System.IntPtr ctx) { return Answer; }
}
'@
  }
  function Set-Prov($Value) { [RenewdKeyProvInfo]::Answer = $Value }
  $env:ProgramData = 'C:\ProgramData'
  Mock Join-Path { ($Path.TrimEnd('\') + '\' + $ChildPath) }
  $withKey = New-RenewdCert 'CN=k'
  $noKey = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([byte[]]$withKey.RawData)
}

Describe 'rdw_keyinfo' {
  BeforeEach { Mock Test-Path { $false } }
  It 'reports nothing but the folder for a certificate without a private key' {
    $k = rdw_keyinfo $noKey
    $k.prov_type | Should -BeNullOrEmpty
    $k.crypto_dir | Should -BeExactly 'C:\ProgramData\Microsoft\Crypto'
    @($k.files).Count | Should -Be 0
  }
  It 'says so when the certificate has no CERT_KEY_PROV_INFO property' {
    Set-Prov $null
    (rdw_keyinfo $withKey).error | Should -BeExactly 'the certificate has no CERT_KEY_PROV_INFO property'
  }
  # The unique name needs Windows (CspKeyContainerInfo and CngKey throw
  # PlatformNotSupportedException elsewhere): the provider type alone picks
  # the API, as the property says, never the .NET wrapper type.
  It 'a CAPI key (dwProvType 24): the property as reported, opened with CspKeyContainerInfo' {
    Set-Prov @('cont1', 'Microsoft Enhanced RSA and AES Cryptographic Provider', [long]24, [long]0x20, [long]1)
    $k = rdw_keyinfo $withKey
    $k.prov_type | Should -Be 24
    $k.prov_name | Should -BeExactly 'Microsoft Enhanced RSA and AES Cryptographic Provider'
    $k.container | Should -BeExactly 'cont1'
    $k.flags | Should -Be 0x20
    $k.key_spec | Should -Be 1
    $k.error | Should -BeLike '*CspKeyContainerInfo*(CAPI)*'
    $k.unique_name | Should -BeNullOrEmpty
    @($k.files).Count | Should -Be 0
    Should -Invoke Test-Path -Times 0 -Exactly
  }
  It 'a CNG key (dwProvType 0): opened with CngKey' {
    Set-Prov @('cont2', 'Microsoft Software Key Storage Provider', [long]0, [long]0x20, [long]0)
    $k = rdw_keyinfo $withKey
    $k.prov_type | Should -Be 0
    $k.error | Should -BeLike '*Cryptography Next Generation (CNG)*'
  }
}

Describe 'rdw_usage_add' {
  It 'adds a 20-byte hash as an uppercase thumbprint, several users to one' {
    $m = @{}
    $h = [byte[]](0..19)
    rdw_usage_add $m $h 'HTTP.sys binding 0.0.0.0:443'
    rdw_usage_add $m $h 'the RDP listener (RDP-Tcp)'
    @($m['000102030405060708090A0B0C0D0E0F10111213']) | Should -Be @('HTTP.sys binding 0.0.0.0:443', 'the RDP listener (RDP-Tcp)')
  }
  It 'ignores <what>' -ForEach @(@{ what = 'a short hash'; h = [byte[]](1, 2, 3) }, @{ what = 'a string'; h = 'AB' * 20 }, @{ what = 'null'; h = $null }) {
    $m = @{}
    rdw_usage_add $m $h 'x'
    $m.Count | Should -Be 0
  }
}

Describe 'rdw_certinfo' {
  BeforeEach { Set-Prov $null }
  It 'reports the DER, the key facts and what uses the certificate' {
    $u = @{ ([string]$withKey.Thumbprint) = @('the RDP listener (RDP-Tcp)') }
    $i = rdw_certinfo $withKey $u
    $i.thumbprint | Should -BeExactly $withKey.Thumbprint
    [System.Convert]::FromBase64String($i.raw) | Should -Be $withKey.RawData
    $i.has_key | Should -BeTrue
    $i.key.error | Should -BeExactly 'the certificate has no CERT_KEY_PROV_INFO property'
    @($i.uses) | Should -Be @('the RDP listener (RDP-Tcp)')
    $i.template_hint | Should -BeNullOrEmpty
  }
  It 'uses nothing when no usage map is given, and is strict-mode clean' {
    $i = rdw_certinfo $noKey
    @($i.uses).Count | Should -Be 0
    $i.has_key | Should -BeFalse
  }
}
