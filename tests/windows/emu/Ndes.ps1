# Ndes.ps1 — part of RenewdWindows.psm1 (dot-sourced): IIS application
# pools and the NDES application, as renewd's scripts meet them.
#
# Import-Module WebAdministration
# (https://learn.microsoft.com/powershell/module/webadministration/) finds
# Modules/WebAdministration (on PSModulePath, see RenewdWindows.psm1); the
# IIS: drive's items are this emulation's Get-Item: IIS:\AppPools\<pool>
# is emu/iis/apppools/<pool>.json, {"identityType": "SpecificUser"|
# "ApplicationPoolIdentity"|..., "userName": "..."}, shown as the item's
# processModel (https://learn.microsoft.com/iis/configuration/system.applicationhost/applicationpools/add/processmodel).
function Test-RenewdIisPath([string]$Path) { return [bool]$env:RENEWD_WIN_ROOT -and $Path -match '^IIS:\\' }

function Get-RenewdIisItem([string]$Path) {
  if ($Path -notmatch '^IIS:\\AppPools\\([A-Za-z0-9 ._-]+)\z') { return $null }
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'iis', 'apppools', $Matches[1] + '.json')
  if (-not [System.IO.File]::Exists($f)) { return $null }
  $pm = [System.IO.File]::ReadAllText($f) | ConvertFrom-Json
  return [pscustomobject]@{ Name = $Matches[1]; processModel = $pm }
}

# The SID the pool's worker process runs as (processModel.identityType)
function Get-RenewdPoolSid([string]$Pool) {
  $p = Get-RenewdIisItem ('IIS:\AppPools\' + $Pool)
  if (-not $p) { return $null }
  $t = [string]$p.processModel.identityType
  $well = @{ LocalSystem = 'S-1-5-18'; LocalService = 'S-1-5-19'; NetworkService = 'S-1-5-20' }
  if ($well.ContainsKey($t)) { return $well[$t] }
  $user = $(if ($t -eq 'ApplicationPoolIdentity') { 'IIS AppPool\' + $Pool } else { [string]$p.processModel.userName })
  try { return (Invoke-RenewdEmuSid $user).Value } catch { return $null }
}

# ---------------------------------------------------------------- NDES
# The NDES application (emu/ndes.json: {"app_pool": "SCEP", "templates":
# ["CEPEncryption", "EnrollmentAgentOffline"], "events": true}) loads on
# the first request after IIS starts (iisreset deletes emu/ndes.loaded)
# and then logs, in the Application log, as the seeds (issue 06) say it
# does: Event 1 from Microsoft-Windows-NetworkDeviceEnrollmentService when
# each RA template has exactly one valid certificate in LocalMachine\My
# whose private key the pool's identity may read, else Event 2 with
# 0x80070057 (NDES then answers no request). "events": false makes it log
# nothing (a test's event that never comes). GetCACaps is a SCEP request
# (RFC 8894 3.5.2, https://www.rfc-editor.org/rfc/rfc8894#section-3.5.2;
# NDES: https://learn.microsoft.com/windows-server/identity/ad-cs/network-device-enrollment-service-overview).
$script:NdesProvider = 'Microsoft-Windows-NetworkDeviceEnrollmentService'

function Write-RenewdEvent([int]$Id, [string]$Provider, [string]$Message, [string]$Log = 'Application') {
  $d = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'events')
  [void][System.IO.Directory]::CreateDirectory($d)
  $f = [System.IO.Path]::Combine($d, $Log + '.jsonl')
  $n = $(if ([System.IO.File]::Exists($f)) { @([System.IO.File]::ReadAllLines($f) | Where-Object { $_.Trim() }).Count } else { 0 })
  $e = [ordered]@{ id = $Id; provider = $Provider; time = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds(); record = $n + 1; message = $Message }
  [System.IO.File]::AppendAllText($f, (ConvertTo-Json -InputObject $e -Compress) + "`n")
}

# The v1 template name a certificate carries (certificateTemplateName,
# 1.3.6.1.4.1.311.20.2, a BMPString: MS-WCCE 2.2.2.7.7.1)
function Get-RenewdV1Template($Cert) {
  $x = $Cert.Extensions | Where-Object { $_.Oid.Value -eq '1.3.6.1.4.1.311.20.2' } | Select-Object -First 1
  if (-not $x) { return $null }
  $r = [System.Formats.Asn1.AsnReader]::new([byte[]]$x.RawData, [System.Formats.Asn1.AsnEncodingRules]::DER)
  return $r.ReadCharacterString([System.Formats.Asn1.UniversalTagNumber]::BMPString)
}

# Why NDES cannot start, or $null
function Test-RenewdNdesRa($Conf) {
  $sid = Get-RenewdPoolSid ([string]$Conf.app_pool)
  if (-not $sid) { return "application pool $($Conf.app_pool) has no identity" }
  $dir = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'cert', 'LocalMachine', 'My')
  $now = [DateTime]::Now
  foreach ($t in @($Conf.templates)) {
    $ok = @(foreach ($f in [System.IO.Directory]::GetFiles($dir, '*.cer')) {
        $c = Get-RenewdEmuCert $dir ([System.IO.Path]::GetFileNameWithoutExtension($f))
        if ((Get-RenewdV1Template $c) -ne $t -or $c.NotBefore -gt $now -or $c.NotAfter -lt $now) { continue }
        $c
      })
    if ($ok.Count -ne 1) { return "$($ok.Count) valid $t certificates" }
    $c = $ok[0]
    $kp = [System.IO.Path]::Combine($dir, $c.Thumbprint + '.keyprov')
    if (-not $c.HasPrivateKey -or -not [System.IO.File]::Exists($kp)) { return "the $t certificate has no private key" }
    $kf = 'C:\ProgramData\Microsoft\Crypto\' + (Read-RenewdKeyProv $kp).KeyFile
    if (((Get-RenewdAclMask $kf $sid) -band 0x20089) -ne 0x20089) { return "the pool cannot read the $t key" }
  }
  return $null
}

function Invoke-RenewdNdes([string]$Query) {
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'ndes.json')
  if (-not [System.IO.File]::Exists($f)) { return @(404, '') }
  $conf = [System.IO.File]::ReadAllText($f) | ConvertFrom-Json
  $loaded = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'ndes.loaded')
  if (-not [System.IO.File]::Exists($loaded)) {
    $why = Test-RenewdNdesRa $conf
    [System.IO.File]::WriteAllText($loaded, $(if ($why) { "failed: $why" } else { 'ok' }))
    if ($conf.events -ne $false) {
      if ($why) { Write-RenewdEvent 2 $script:NdesProvider 'The Network Device Enrollment Service cannot be started (0x80070057). The parameter is incorrect.' }
      else { Write-RenewdEvent 1 $script:NdesProvider 'The Network Device Enrollment Service started successfully.' }
    }
    if (-not $why) { Start-RenewdPolicyModule }
  }
  if ([System.IO.File]::ReadAllText($loaded) -ne 'ok') { return @(500, '') }
  if ($Query -ne 'operation=GetCACaps') { return @(400, '') }
  return @(200, "POSTPKIOperation`nRenewal`nSHA-256`nSHA-1`nDES3`n")
}

# Invoke-WebRequest (https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/invoke-webrequest?view=powershell-5.1)
# of this machine's NDES URL (http://localhost|127.0.0.1/certsrv/mscep/mscep.dll/...);
# anything else goes to the real cmdlet. A non-2xx answer throws a
# WebException (protocol error), as Windows PowerShell 5.1 does.
function Invoke-WebRequest {
  [CmdletBinding()]
  param([Parameter(Position = 0)][uri]$Uri, [switch]$UseBasicParsing, [int]$TimeoutSec, [int]$MaximumRedirection)
  if (-not $env:RENEWD_WIN_ROOT -or $Uri.Host -notin @('localhost', '127.0.0.1') -or $Uri.AbsolutePath -ne '/certsrv/mscep/mscep.dll/pkiclient.exe') {
    return Microsoft.PowerShell.Utility\Invoke-WebRequest @PSBoundParameters
  }
  $r = Invoke-RenewdNdes $Uri.Query.TrimStart('?')
  if ($r[0] -ne 200) {
    throw [System.Net.WebException]::new("The remote server returned an error: ($($r[0])).", [System.Net.WebExceptionStatus]::ProtocolError)
  }
  return [pscustomobject]@{ StatusCode = 200; Content = $r[1] }
}

# ---------------------------------------------------------------- the ConfigMgr policy module
# emu/policymodule.json ({"log": "C:\\...\\NDESPlugin.log"}) installs the
# Configuration Manager Policy Module: NDES loads it when it starts, and it
# authenticates to the certificate registration point with the certificate
# whose thumbprint HKLM\SOFTWARE\Microsoft\Cryptography\MSCEP\Modules\NDESPolicy
# \NDESCertThumbprint names, writing to NDESPlugin.log
# INFO("NDES thumbprint is <thumbprint>.") — or, for an expired certificate,
# ERROR("Failed to send http request <thumbprint>. Error 12037") — as
# Microsoft's "How to configure the policy module to use a new client
# certificate in System Center Configuration Manager" (Configuration Manager
# documentation, 2015; one of issue 06's seeds) says. A thumbprint that
# names no certificate of LocalMachine\My is logged as an error too
# (emulated: the seed gives no text for it).
function Start-RenewdPolicyModule() {
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'policymodule.json')
  if (-not [System.IO.File]::Exists($f)) { return }
  $log = ConvertFrom-RenewdWindowsPath ([string]([System.IO.File]::ReadAllText($f) | ConvertFrom-Json).log)
  $t = ''
  $rf = Get-RenewdRegFile 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP\Modules\NDESPolicy'
  if ([System.IO.File]::Exists($rf)) {
    $vals = Read-RenewdRegKey $rf
    $k = Find-RenewdRegValue $vals 'NDESCertThumbprint'
    if ($k) { $t = [string]$vals[$k].value }
  }
  $dir = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'cert', 'LocalMachine', 'My')
  $c = $null
  if ($t -match '\A[0-9A-Fa-f]{40}\z' -and [System.IO.File]::Exists([System.IO.Path]::Combine($dir, $t.ToUpperInvariant() + '.cer'))) {
    $c = Get-RenewdEmuCert $dir $t.ToUpperInvariant()
  }
  $now = [DateTime]::Now
  $line = $(if (-not $c) { "ERROR(""Failed to find the certificate $t in LocalMachine\My."") (emulated)" }
    elseif ($c.NotAfter -lt $now -or $c.NotBefore -gt $now) { "ERROR(""Failed to send http request $t. Error 12037"")" }
    else { "INFO(""NDES thumbprint is $t."")" })
  [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($log))
  [System.IO.File]::AppendAllText($log, "$line`r`n")
}
