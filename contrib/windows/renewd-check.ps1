<#
.SYNOPSIS
  renewd-check.ps1 - a read-only look at a Windows server before renewd's
  first contact: what renewd will meet there, in the admin's own session.

.DESCRIPTION
  Run it by hand, elevated, on the server (Windows PowerShell 5.1 or later):

    powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\renewd-check.ps1 `
        -Template CEPEncryption -OutFile .\renewd-check.json

  It changes nothing: it reads services, registry values, the machine's
  certificate store, key files' ACLs and the Application log, and asks the
  CA whether it answers (certutil -ping). Every line is "CHECK: OK|WARN|FAIL:
  what was found"; -OutFile also writes everything as JSON, which is what to
  send back (see FIRST-CONTACT.md). Exit code: 0 no FAIL, 1 a FAIL.

  Key storage is decided from the certificate's key provider information
  (CERT_KEY_PROV_INFO: provider type 0 = CNG, else CryptoAPI), read here with
  its own small P/Invoke - independently of renewd's inventory, so the two
  can be compared.

.PARAMETER Template
  Certificate template name (v1 name, or the display name) that selects the
  certificates to report; without it every certificate of the store is listed.
.PARAMETER Thumbprint
  Report only this certificate.
.PARAMETER Store
  The LocalMachine store (default My).
.PARAMETER CAConfig
  "host\CA name" to ping; default: NDES's MSCEP\CAInfo, if this is NDES.
.PARAMETER Service
  Services the runbook restarts (e.g. HealthService, MSSQLSERVER), checked to exist.
.PARAMETER AppPool
  The IIS application pool whose identity reads the key (NDES: SCEP).
.PARAMETER OutFile
  Also write the findings as JSON to this file.
#>
[CmdletBinding()]
param(
  [string]$Template = '',
  [string]$Thumbprint = '',
  [string]$Store = 'My',
  [string]$CAConfig = '',
  [string[]]$Service = @(),
  [string]$AppPool = '',
  [string]$OutFile = ''
)
Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$script:Findings = New-Object System.Collections.ArrayList
$script:Failed = $false

function Report([string]$Check, [string]$Level, [string]$Text, $Data = $null) {
  [void]$script:Findings.Add([ordered]@{ check = $Check; level = $Level; text = $Text; data = $Data })
  if ($Level -eq 'FAIL') { $script:Failed = $true }
  Write-Output ('{0}: {1}: {2}' -f $Check, $Level, $Text)
}

function Try-Read([scriptblock]$Block) {
  try { return (& $Block) } catch { return $null }
}

function Reg-Value([string]$Path, [string]$Name) {
  $item = Try-Read { Get-ItemProperty -LiteralPath $Path -Name $Name }
  if ($null -eq $item) { return $null }
  return $item.$Name
}

# --- the session ------------------------------------------------------------
$ps = $PSVersionTable.PSVersion
if ($ps.Major -ge 5) { Report 'powershell' 'OK' ("PowerShell {0} ({1})" -f $ps, $PSVersionTable.PSEdition) }
else { Report 'powershell' 'FAIL' ("PowerShell {0}: renewd's scripts need 5.1" -f $ps) }

$release = Reg-Value 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' 'Release'
if ($null -eq $release) { Report 'dotnet' 'WARN' '.NET Framework 4.x release not found in the registry' }
elseif ($release -ge 393295) { Report 'dotnet' 'OK' (".NET Framework 4.6 or later (Release {0})" -f $release) }
else { Report 'dotnet' 'WARN' (".NET Framework older than 4.6 (Release {0})" -f $release) }

$principal = New-Object System.Security.Principal.WindowsPrincipal([System.Security.Principal.WindowsIdentity]::GetCurrent())
$admin = $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
if ($admin) { Report 'elevation' 'OK' ("{0} runs elevated" -f [Environment]::UserName) }
else { Report 'elevation' 'FAIL' 'not elevated: run it (and renewd''s account) as an administrator' }

# --- OpenSSH server ----------------------------------------------------------
$sshd = Try-Read { Get-Service -Name sshd }
if ($null -eq $sshd) { Report 'openssh' 'FAIL' 'no sshd service: Add-WindowsCapability -Online -Name OpenSSH.Server~~~~0.0.1.0' }
else {
  $level = 'OK'
  if ($sshd.Status -ne 'Running') { $level = 'FAIL' }
  Report 'openssh' $level ("sshd is {0} (start type {1})" -f $sshd.Status, $sshd.StartType)
}
$shell = Reg-Value 'HKLM:\SOFTWARE\OpenSSH' 'DefaultShell'
if ($null -eq $shell) { Report 'openssh-shell' 'OK' 'default shell: cmd.exe (renewd calls powershell.exe itself)' }
else { Report 'openssh-shell' 'WARN' ("DefaultShell is {0}; renewd expects cmd.exe to start powershell.exe" -f $shell) }
$akeys = Join-Path $env:ProgramData 'ssh\administrators_authorized_keys'
if (Test-Path -LiteralPath $akeys) {
  $acl = Get-Acl -LiteralPath $akeys
  $who = @($acl.Access | ForEach-Object { '{0}:{1}' -f $_.IdentityReference, $_.FileSystemRights })
  Report 'openssh-keys' 'OK' ("{0} exists; ACL {1}" -f $akeys, ($who -join ', '))
} else {
  Report 'openssh-keys' 'WARN' ("no {0}: an administrator's key belongs there, not in the profile" -f $akeys)
}

# --- tools renewd calls ----------------------------------------------------
foreach ($tool in @('certreq.exe', 'certutil.exe')) {
  $cmd = Try-Read { Get-Command $tool }
  if ($null -eq $cmd) { Report 'tools' 'FAIL' ("{0} not found" -f $tool) }
  else { Report 'tools' 'OK' ("{0} at {1}" -f $tool, $cmd.Source) }
}
$sched = Try-Read { Get-Service -Name Schedule }
if ($null -ne $sched -and $sched.Status -eq 'Running') { Report 'task-scheduler' 'OK' 'Task Scheduler runs (adcs.issue submits as SYSTEM through it)' }
else { Report 'task-scheduler' 'FAIL' 'Task Scheduler is not running: adcs.issue submits the request as SYSTEM through it' }

# --- NDES, ConfigMgr / Intune, SCOM ----------------------------------------------
$mscep = 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP'
if (Test-Path -LiteralPath $mscep) {
  $t = @{}
  foreach ($n in @('EncryptionTemplate', 'GeneralPurposeTemplate', 'SignatureTemplate')) { $t[$n] = Reg-Value $mscep $n }
  Report 'ndes' 'OK' ("MSCEP templates: encryption {0}, general {1}, signature {2}" -f $t.EncryptionTemplate, $t.GeneralPurposeTemplate, $t.SignatureTemplate) $t
  $cainfo = Reg-Value "$mscep\CAInfo" 'Configuration'
  if ($null -ne $cainfo) { Report 'ndes-ca' 'OK' ("MSCEP\CAInfo names the CA {0}" -f $cainfo) }
  if ($CAConfig -eq '' -and $null -ne $cainfo) { $CAConfig = [string]$cainfo }
  $ndesThumb = Reg-Value "$mscep\Modules\NDESPolicy" 'NDESCertThumbprint'
  if ($null -ne $ndesThumb) { Report 'ndes-policy' 'OK' ("NDESPolicy NDESCertThumbprint {0}" -f $ndesThumb) }
} else {
  Report 'ndes' 'OK' 'not an NDES server (no MSCEP key)'
}
$scom = 'HKLM:\SOFTWARE\Microsoft\Microsoft Operations Manager\3.0\Machine Settings'
if (Test-Path -LiteralPath $scom) {
  $hash = Reg-Value $scom 'ChannelCertificateHash'
  $serial = Reg-Value $scom 'ChannelCertificateSerialNumber'
  $sh = ''
  if ($serial -is [byte[]]) { $sh = ($serial | ForEach-Object { $_.ToString('X2') }) -join ' ' }
  Report 'scom' 'OK' ("ChannelCertificateHash {0}; ChannelCertificateSerialNumber (bytes) {1}" -f $hash, $sh)
}

# --- the CA -------------------------------------------------------------------
if ($CAConfig -ne '') {
  # 5.1 turns a native program's stderr into errors: not terminating here
  $out = Try-Read { $ErrorActionPreference = 'Continue'; & certutil.exe -config $CAConfig -ping 2>&1 | Out-String }
  if ($LASTEXITCODE -eq 0) { Report 'ca' 'OK' ("{0} answers certutil -ping" -f $CAConfig) }
  else { Report 'ca' 'FAIL' ("{0}: certutil -ping exit {1}: {2}" -f $CAConfig, $LASTEXITCODE, ("$out".Trim() -replace '\s+', ' ')) }
} else {
  Report 'ca' 'WARN' 'no CA configuration given (-CAConfig "host\CA name") and none in MSCEP\CAInfo'
}

# --- the store: certificates, templates, key providers, key files ----------------
Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
public static class RenewdCheckProvInfo {
  [DllImport("crypt32.dll", SetLastError = true)]
  static extern bool CertGetCertificateContextProperty(IntPtr ctx, uint id, IntPtr data, ref uint size);
  [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
  struct CRYPT_KEY_PROV_INFO {
    public string pwszContainerName; public string pwszProvName; public uint dwProvType;
    public uint dwFlags; public uint cProvParam; public IntPtr rgProvParam; public uint dwKeySpec;
  }
  // container, provider, provider type, flags, key spec; null without the property
  public static object[] Read(IntPtr ctx) {
    uint size = 0;
    if (!CertGetCertificateContextProperty(ctx, 2, IntPtr.Zero, ref size)) return null;
    IntPtr buf = Marshal.AllocHGlobal((int)size);
    try {
      if (!CertGetCertificateContextProperty(ctx, 2, buf, ref size)) return null;
      CRYPT_KEY_PROV_INFO i = (CRYPT_KEY_PROV_INFO)Marshal.PtrToStructure(buf, typeof(CRYPT_KEY_PROV_INFO));
      return new object[] { i.pwszContainerName, i.pwszProvName, i.dwProvType, i.dwFlags, i.dwKeySpec };
    } finally { Marshal.FreeHGlobal(buf); }
  }
}
'@

function Template-Of($cert) {
  foreach ($ext in $cert.Extensions) {
    if ($ext.Oid.Value -eq '1.3.6.1.4.1.311.20.2' -or $ext.Oid.Value -eq '1.3.6.1.4.1.311.21.7') {
      return ($ext.Format($false) -replace '\s+', ' ').Trim()
    }
  }
  return ''
}

function Key-File($info) {
  $crypto = Join-Path $env:ProgramData 'Microsoft\Crypto'
  $container = [string]$info[0]; $prov = [string]$info[1]; $type = [uint32]$info[2]; $flags = [uint32]$info[3]
  $unique = $null
  if ($type -eq 0) {
    $k = Try-Read { [System.Security.Cryptography.CngKey]::Open($container, (New-Object System.Security.Cryptography.CngProvider($prov)), [System.Security.Cryptography.CngKeyOpenOptions]::MachineKey) }
    if ($null -ne $k) { $unique = $k.UniqueName; $k.Dispose() }
    $dir = 'Keys'
  } else {
    $p = New-Object System.Security.Cryptography.CspParameters($type, $prov, $container)
    $p.Flags = [System.Security.Cryptography.CspProviderFlags]'UseMachineKeyStore, UseExistingKey, NoPrompt'
    $k = Try-Read { New-Object System.Security.Cryptography.RSACryptoServiceProvider($p) }
    if ($null -ne $k) { $unique = $k.CspKeyContainerInfo.UniqueKeyContainerName; $k.Dispose() }
    $dir = 'RSA\MachineKeys'
    if ($type -eq 3 -or $type -eq 13) { $dir = 'DSS\MachineKeys' }
  }
  if (($flags -band 0x20) -eq 0) { return @{ kind = 'user key (no CRYPT_MACHINE_KEYSET)'; path = $null } }
  if ($null -eq $unique) { return @{ kind = 'unique name not readable'; path = $null } }
  return @{ kind = 'file'; path = (Join-Path (Join-Path $crypto $dir) $unique) }
}

$certs = @(Get-ChildItem -LiteralPath ("Cert:\LocalMachine\{0}" -f $Store))
$now = Get-Date
$shown = 0
foreach ($c in $certs) {
  $tpl = Template-Of $c
  if ($Thumbprint -ne '' -and $c.Thumbprint -ne $Thumbprint.ToUpperInvariant()) { continue }
  if ($Template -ne '' -and ($tpl -replace ' ', '') -notmatch [regex]::Escape(($Template -replace ' ', ''))) { continue }
  $shown++
  $info = [RenewdCheckProvInfo]::Read($c.Handle)
  $d = [ordered]@{ thumbprint = $c.Thumbprint; subject = $c.Subject; not_after = $c.NotAfter.ToString('u');
                   template = $tpl; has_private_key = $c.HasPrivateKey; provider = $null; provider_type = $null;
                   key_file = $null; key_acl = @() }
  $level = 'OK'
  $text = '{0} {1}, template "{2}", expires {3}' -f $c.Thumbprint, $c.Subject, $tpl, $c.NotAfter.ToString('u')
  if ($c.NotAfter -lt $now) { $level = 'WARN'; $text += ' (EXPIRED)' }
  if ($null -eq $info) {
    $level = 'FAIL'; $text += '; no key provider information (no private key linked)'
  } else {
    $d.provider = $info[1]; $d.provider_type = $info[2]
    $kind = 'CryptoAPI'
    if ([uint32]$info[2] -eq 0) { $kind = 'CNG' }
    $text += '; key: {0} ({1}, type {2})' -f $kind, $info[1], $info[2]
    $kf = Key-File $info
    if ($null -eq $kf.path) { $level = 'WARN'; $text += '; key file: ' + $kf.kind }
    elseif (Test-Path -LiteralPath $kf.path) {
      $d.key_file = $kf.path
      $d.key_acl = @((Get-Acl -LiteralPath $kf.path).Access | ForEach-Object { '{0}:{1}' -f $_.IdentityReference, $_.FileSystemRights })
      $text += '; key file {0}; ACL {1}' -f $kf.path, ($d.key_acl -join ', ')
    } else { $level = 'FAIL'; $text += '; key file missing: ' + $kf.path }
  }
  Report 'certificate' $level $text $d
}
if ($shown -eq 0) { Report 'certificate' 'WARN' ("no certificate in LocalMachine\{0} matches" -f $Store) }

# --- who reads the key: the IIS pool, the services ----------------------------------
if ($AppPool -ne '') {
  $web = Try-Read { Import-Module WebAdministration; $true }
  if ($web) {
    $pm = Try-Read { Get-ItemProperty -Path ("IIS:\AppPools\{0}" -f $AppPool) -Name processModel }
    if ($null -eq $pm) { Report 'app-pool' 'FAIL' ("no IIS application pool {0}" -f $AppPool) }
    else { Report 'app-pool' 'OK' ("{0} runs as {1} {2}" -f $AppPool, $pm.identityType, $pm.userName) }
  } else { Report 'app-pool' 'FAIL' 'the WebAdministration module is not available (IIS management tools)' }
}
foreach ($s in $Service) {
  $svc = Try-Read { Get-Service -Name $s }
  if ($null -eq $svc) { Report 'service' 'FAIL' ("no service {0}" -f $s) }
  else { Report 'service' 'OK' ("{0} ({1}) is {2}" -f $s, $svc.DisplayName, $svc.Status) }
}
$sni = @(Try-Read { Get-ChildItem -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\HTTP\Parameters\SslBindingInfo' })
Report 'http.sys' 'OK' ("{0} TLS binding(s) in http.sys" -f @($sni | Where-Object { $null -ne $_ }).Count)

# --- the Application log -----------------------------------------------------------
$ev = Try-Read { Get-WinEvent -LogName Application -MaxEvents 1 }
if ($null -ne $ev) { Report 'event-log' 'OK' 'the Application log can be read' }
else { Report 'event-log' 'FAIL' 'the Application log cannot be read (renewd''s event checks need it)' }

if ($OutFile -ne '') {
  $doc = [ordered]@{ computer = $env:COMPUTERNAME; when = (Get-Date).ToUniversalTime().ToString('u');
                     os = [Environment]::OSVersion.VersionString; findings = $script:Findings }
  $doc | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath $OutFile -Encoding UTF8
  Write-Output ("written: {0}" -f $OutFile)
}
if ($script:Failed) { exit 1 }
exit 0
