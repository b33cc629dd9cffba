# Scom.ps1 — part of RenewdWindows.psm1 (dot-sourced): the Operations
# Manager agent's (or gateway's) Health Service as renewd's SCOM runbook
# meets it (runbooks/windows-scom-channel.json).
#
# MOMCertImport stores the channel certificate's serial number, its bytes
# in reverse order (as CryptoAPI keeps a CRYPT_INTEGER_BLOB, least
# significant byte first), as REG_BINARY ChannelCertificateSerialNumber
# under HKLM\SOFTWARE\Microsoft\Microsoft Operations Manager\3.0\Machine
# Settings, and the Health Service, when it starts, loads that certificate
# from the computer's Personal store (LocalMachine\My); it must carry a
# private key the service (LocalSystem) can use
# (https://learn.microsoft.com/system-center/scom/obtain-certificate-windows-server-and-operations-manager,
# https://learn.microsoft.com/system-center/scom/plan-security-auth-encryption-windows;
# CRYPT_INTEGER_BLOB: https://learn.microsoft.com/windows/win32/api/wincrypt/ns-wincrypt-crypt_integer_blob).
# The connector reports the outcome in the "Operations Manager" log,
# provider "OpsMgr Connector": Event 20053 when the certificate loaded;
# 20050 when it is not currently valid; 20077 when the certificate named
# by the registry cannot be used (none with that serial in My, no private
# key, or a key the service cannot read), with the HRESULT
# (the HealthService event reference, MOMConnector:
# https://learn.microsoft.com/archive/blogs/scstr/part-1-scom-2012-r2-healthservice-event-reference-momconnector;
# which failure ID Windows logs for which cause is this emulation's
# reading of it: the seeds (issue 06, seed 002) list the IDs without their
# texts, and the messages here are marked "(emulated)").
#
# Emulated only while emu/scom.json exists (a SCOM machine):
# {"fail": 20050, "fail_starts": 1} makes the next start (fail_starts of
# them, counted down) log that failure whatever the registry holds (a
# test's 20053 that never comes; the start after the rollback loads the
# old certificate again). Restart-Service of
# HealthService (RenewdWindows.psm1) calls Start-RenewdHealthService.
# SYSTEM's rights on a key file are its explicit rules in emu/acl.json
# (Security.ps1 lists no inherited rule), so the runbook's key_acl step is
# what lets the emulated service read a new key.
$script:ScomProvider = 'OpsMgr Connector'
$script:ScomLog = 'Operations Manager'
$script:ScomKey = 'HKLM:\SOFTWARE\Microsoft\Microsoft Operations Manager\3.0\Machine Settings'

# The certificate the registry names, or why not: @(id, message)
function Test-RenewdScomChannel() {
  $f = Get-RenewdRegFile $script:ScomKey
  $v = $null
  if ([System.IO.File]::Exists($f)) {
    $vals = Read-RenewdRegKey $f
    $k = Find-RenewdRegValue $vals 'ChannelCertificateSerialNumber'
    if ($k -and $vals[$k].kind -eq 'Binary') { $v = [string]$vals[$k].value }
  }
  $cantUse = 'The certificate specified in the registry at Software\Microsoft\Microsoft Operations Manager\3.0\Machine Settings cannot be used for authentication. (emulated) '
  if (-not $v) { return @(20077, ($cantUse + 'ChannelCertificateSerialNumber is missing or not REG_BINARY: 0x80092004 (Cannot find object or property.)')) }
  # the bytes back in DER order: the serial as X509Certificate2.SerialNumber shows it
  $serial = -join @(for ($i = $v.Length - 2; $i -ge 0; $i -= 2) { $v.Substring($i, 2) })
  $dir = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'cert', 'LocalMachine', 'My')
  $c = $null
  foreach ($cer in [System.IO.Directory]::GetFiles($dir, '*.cer')) {
    $x = Get-RenewdEmuCert $dir ([System.IO.Path]::GetFileNameWithoutExtension($cer))
    if ([string]::Equals($x.SerialNumber, $serial, [System.StringComparison]::OrdinalIgnoreCase)) { $c = $x; break }
  }
  if (-not $c) { return @(20077, ($cantUse + "no certificate with serial number $serial in LocalMachine\My: 0x80092004 (Cannot find object or property.)")) }
  $now = [DateTime]::Now
  if ($c.NotBefore -gt $now -or $c.NotAfter -lt $now) {
    return @(20050, "The specified certificate could not be loaded because it is not currently valid. (emulated) Certificate Valid Start Time: $($c.NotBefore.ToString('o')), Certificate Valid End Time: $($c.NotAfter.ToString('o'))")
  }
  $kp = [System.IO.Path]::Combine($dir, $c.Thumbprint + '.keyprov')
  if (-not $c.HasPrivateKey -or -not [System.IO.File]::Exists($kp)) { return @(20077, ($cantUse + "certificate $($c.Thumbprint) has no private key: 0x8009000D (Key does not exist.)")) }
  $kf = 'C:\ProgramData\Microsoft\Crypto\' + (Read-RenewdKeyProv $kp).KeyFile
  if (((Get-RenewdAclMask $kf 'S-1-5-18') -band 0x20089) -ne 0x20089) {
    return @(20077, ($cantUse + "the service cannot read the private key of $($c.Thumbprint): 0x80090016 (Keyset does not exist)"))
  }
  return @(20053, "The OpsMgr Connector has loaded the specified authentication certificate successfully. (emulated) $($c.Thumbprint)")
}

# The Health Service (re)started: it loads the channel certificate and
# says so in its log
function Start-RenewdHealthService() {
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'scom.json')
  if (-not [System.IO.File]::Exists($f)) { return }
  $conf = [System.IO.File]::ReadAllText($f) | ConvertFrom-Json
  $r = Test-RenewdScomChannel
  if ($conf.PSObject.Properties['fail_starts'] -and [int]$conf.fail_starts -gt 0) {
    $r = @([int]$conf.fail, "The specified certificate could not be loaded. (emulated: this machine's HealthService is set to log $($conf.fail))")
    $conf.fail_starts = [int]$conf.fail_starts - 1
    [System.IO.File]::WriteAllText($f, (ConvertTo-Json -InputObject $conf -Compress))
  }
  Write-RenewdEvent $r[0] $script:ScomProvider $r[1] $script:ScomLog
}
