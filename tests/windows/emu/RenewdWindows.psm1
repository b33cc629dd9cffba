# RenewdWindows.psm1 — the emulation module renewd-pshost imports before
# every script: the Windows machine the script believes it runs on.
#
# Today: the machine's folders. With RENEWD_WIN_ROOT set (the emulated
# machine's root; C:\ is RENEWD_WIN_ROOT/c), the environment variables
# renewd's scripts read point into it, spelled as Windows spells them:
#   %windir% / %SystemRoot% = C:\Windows, %ProgramData% = C:\ProgramData
#   (https://learn.microsoft.com/windows/deployment/usmt/usmt-recognized-environment-variables)
# Paths built from them are mapped back by renewd-pshost (-File) and by
# ConvertFrom-RenewdWindowsPath below.
# Without RENEWD_WIN_ROOT (the Pester unit tests) nothing is changed: the
# tests mock every Windows command they reach.
Set-StrictMode -Version Latest

# And the drive C: is RENEWD_WIN_ROOT/c for PowerShell's own paths
# (Join-Path, Test-Path, Get-Item, New-Item ...; Join-Path answers with
# '/' where Windows has '\'). .NET's own file APIs do not see PowerShell
# drives: [System.IO.File]::WriteAllBytes('C:\x') is not mapped.
if ($env:RENEWD_WIN_ROOT) {
  $env:windir = 'C:\Windows'
  $env:SystemRoot = 'C:\Windows'
  $env:ProgramData = 'C:\ProgramData'
  $c = Join-Path $env:RENEWD_WIN_ROOT 'c'
  if (-not (Test-Path -LiteralPath $c)) { $null = New-Item -ItemType Directory -Path $c }
  $null = New-PSDrive -Name C -PSProvider FileSystem -Root $c -Scope Global
}

# "C:\x", "C:/x", "/C:/x" -> RENEWD_WIN_ROOT/c/x (the rule of renewd-pshost's
# MapWindowsPath); other paths, or no RENEWD_WIN_ROOT: unchanged.
function ConvertFrom-RenewdWindowsPath([string]$Path) {
  if (-not $env:RENEWD_WIN_ROOT -or $Path -notmatch '^/?([A-Za-z]):[\\/](.*)$') { return $Path }
  return (Join-Path (Join-Path $env:RENEWD_WIN_ROOT $Matches[1].ToLowerInvariant()) ($Matches[2] -replace '\\', '/'))
}

# The parts: accounts, ACLs, key containers and the scripts' rdw_*_of
# helpers (Security.ps1), scheduled tasks (Tasks.ps1), IIS application pools
# and NDES (Ndes.ps1). certreq.exe and certutil.exe are programs of their
# own (certreq.ps1, certutil.ps1, put on the machine by contrib/lab/winhost).
. (Join-Path $PSScriptRoot 'Security.ps1')
. (Join-Path $PSScriptRoot 'Tasks.ps1')
. (Join-Path $PSScriptRoot 'Ndes.ps1')
. (Join-Path $PSScriptRoot 'Scom.ps1')
. (Join-Path $PSScriptRoot 'Iis.ps1')
. (Join-Path $PSScriptRoot 'Sql.ps1')

# ---------------------------------------------------------------- Cert:
# Cert:\LocalMachine\<store>, as the certificate provider shows it
# (about_Certificate_Provider:
# https://learn.microsoft.com/powershell/module/microsoft.powershell.security/about/about_certificate_provider):
# the items of a store are X509Certificate2 objects; Remove-Item deletes a
# certificate and keeps its private key unless -DeleteKey is given.
# Backed by files under RENEWD_WIN_ROOT/emu/cert/LocalMachine/<store>/:
#   <THUMBPRINT>.cer      the certificate (DER)
#   <THUMBPRINT>.keyprov  its CERT_KEY_PROV_INFO_PROP_ID property
#                         (https://learn.microsoft.com/windows/win32/api/wincrypt/ns-wincrypt-crypt_key_prov_info),
#                         one line each: container, provider name, provider
#                         type (0 = CNG), flags (0x20 = machine key), key
#                         spec, and the key file relative to
#                         C:\ProgramData\Microsoft\Crypto (RSA\MachineKeys\<unique
#                         name> for CAPI, Keys\<unique name> for CNG: "Key
#                         Storage and Retrieval",
#                         https://learn.microsoft.com/windows/win32/seccng/key-storage-and-retrieval)
# The key file holds the private key (PKCS#8 PEM here, not the provider's
# format). HasPrivateKey is true while the key file exists, so a
# certificate removed without -DeleteKey and imported again finds its key.
# The machine's stores (My, Root, CA, REQUEST) exist from the start. Only
# the LocalMachine location and the parameters renewd's scripts use are
# emulated; anything else on Cert: fails.
function Get-RenewdCertStoreDir([string]$Path) {
  if ($Path -notmatch '^Cert:\\LocalMachine\\([^\\]+)(?:\\([0-9A-Fa-f]{40}))?\\?\z') { return $null }
  $d = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'cert', 'LocalMachine', $Matches[1])
  return [pscustomobject]@{ Dir = $d; Thumb = $(if ($Matches.Count -gt 2) { $Matches[2].ToUpperInvariant() } else { $null }) }
}

function Read-RenewdKeyProv([string]$File) {
  $l = [System.IO.File]::ReadAllLines($File)
  return [pscustomobject]@{ Container = $l[0]; Provider = $l[1]; Type = [int]$l[2]; Flags = [int]$l[3]; KeySpec = [int]$l[4]; KeyFile = $l[5] }
}

# The certificate of <dir>/<thumb>.cer, with its private key when the key
# file named by its .keyprov exists.
function Get-RenewdEmuCert([string]$Dir, [string]$Thumb) {
  $cer = [System.IO.Path]::Combine($Dir, $Thumb + '.cer')
  $x = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.IO.File]::ReadAllBytes($cer))
  $kp = [System.IO.Path]::Combine($Dir, $Thumb + '.keyprov')
  if (-not [System.IO.File]::Exists($kp)) { return $x }
  $rel = (Read-RenewdKeyProv $kp).KeyFile -replace '\\', '/'
  $kf = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'c', 'ProgramData', 'Microsoft', 'Crypto', $rel)
  if (-not [System.IO.File]::Exists($kf)) { return $x }
  $pem = [System.IO.File]::ReadAllText($kf)
  $key = $(if ($x.PublicKey.Oid.Value -eq '1.2.840.10045.2.1') { [System.Security.Cryptography.ECDsa]::Create() } else { [System.Security.Cryptography.RSA]::Create() })
  $key.ImportFromPem($pem)
  $withKey = $(if ($key -is [System.Security.Cryptography.ECDsa]) {
      [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::CopyWithPrivateKey($x, $key)
    } else {
      [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::CopyWithPrivateKey($x, $key)
    })
  return $withKey
}

function Test-RenewdCertPath([string]$Path) {
  return ($Path -like 'Cert:*') -and [bool]$env:RENEWD_WIN_ROOT
}

function Get-ChildItem {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Path, [string[]]$LiteralPath, [string]$Filter, [switch]$Recurse, [switch]$Force,
    [switch]$File, [switch]$Directory, [switch]$Name)
  $p = @($Path) + @($LiteralPath) | Where-Object { $_ }
  if (-not ($p | Where-Object { Test-RenewdCertPath $_ })) { return Microsoft.PowerShell.Management\Get-ChildItem @PSBoundParameters }
  foreach ($one in $p) {
    $s = Get-RenewdCertStoreDir $one
    if (-not $s -or $s.Thumb -or -not [System.IO.Directory]::Exists($s.Dir)) {
      Write-Error -Message "Cannot find path '$one' because it does not exist." -Category ObjectNotFound
      continue
    }
    foreach ($f in [System.IO.Directory]::GetFiles($s.Dir, '*.cer') | Sort-Object) {
      Get-RenewdEmuCert $s.Dir ([System.IO.Path]::GetFileNameWithoutExtension($f))
    }
  }
}

function Get-Item {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Path, [string[]]$LiteralPath, [switch]$Force)
  $p = @($Path) + @($LiteralPath) | Where-Object { $_ }
  if (-not ($p | Where-Object { (Test-RenewdCertPath $_) -or (Test-RenewdRegPath $_) -or (Test-RenewdIisPath $_) })) { return Microsoft.PowerShell.Management\Get-Item @PSBoundParameters }
  foreach ($one in $p) {
    if (Test-RenewdIisPath $one) {
      $i = Get-RenewdIisItem $one
      if ($i) { $i } else { Write-Error -Message "Cannot find path '$one' because it does not exist." -Category ObjectNotFound }
      continue
    }
    if (Test-RenewdRegPath $one) {
      $f = Get-RenewdRegFile $one
      if ($f -and [System.IO.File]::Exists($f)) { New-RenewdRegKeyObject $f }
      else { Write-Error -Message "Cannot find path '$one' because it does not exist." -Category ObjectNotFound }
      continue
    }
    $s = Get-RenewdCertStoreDir $one
    if ($s -and $s.Thumb -and [System.IO.File]::Exists([System.IO.Path]::Combine($s.Dir, $s.Thumb + '.cer'))) {
      Get-RenewdEmuCert $s.Dir $s.Thumb
    } else {
      Write-Error -Message "Cannot find path '$one' because it does not exist." -Category ObjectNotFound
    }
  }
}

function Test-Path {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Path, [string[]]$LiteralPath, $PathType, [switch]$IsValid)
  $p = @($Path) + @($LiteralPath) | Where-Object { $_ }
  if (-not ($p | Where-Object { (Test-RenewdCertPath $_) -or (Test-RenewdRegPath $_) })) { return Microsoft.PowerShell.Management\Test-Path @PSBoundParameters }
  foreach ($one in $p) {
    if (Test-RenewdRegPath $one) {
      $f = Get-RenewdRegFile $one
      [bool]($f -and [System.IO.File]::Exists($f))
      continue
    }
    $s = Get-RenewdCertStoreDir $one
    if (-not $s) { $false }
    elseif ($s.Thumb) { [System.IO.File]::Exists([System.IO.Path]::Combine($s.Dir, $s.Thumb + '.cer')) }
    else { [System.IO.Directory]::Exists($s.Dir) }
  }
}

function Remove-Item {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Path, [string[]]$LiteralPath, [switch]$Recurse, [switch]$Force, [switch]$DeleteKey)
  $p = @($Path) + @($LiteralPath) | Where-Object { $_ }
  if (-not ($p | Where-Object { Test-RenewdCertPath $_ })) {
    [void]$PSBoundParameters.Remove('DeleteKey')
    return Microsoft.PowerShell.Management\Remove-Item @PSBoundParameters
  }
  foreach ($one in $p) {
    $s = Get-RenewdCertStoreDir $one
    $cer = $(if ($s -and $s.Thumb) { [System.IO.Path]::Combine($s.Dir, $s.Thumb + '.cer') } else { $null })
    if (-not $cer -or -not [System.IO.File]::Exists($cer)) {
      Write-Error -Message "Cannot find path '$one' because it does not exist." -Category ObjectNotFound
      continue
    }
    $kp = [System.IO.Path]::Combine($s.Dir, $s.Thumb + '.keyprov')
    if ($DeleteKey -and [System.IO.File]::Exists($kp)) {
      $kf = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'c', 'ProgramData', 'Microsoft', 'Crypto', ((Read-RenewdKeyProv $kp).KeyFile -replace '\\', '/'))
      [System.IO.File]::Delete($kf)
    }
    [System.IO.File]::Delete($kp)
    [System.IO.File]::Delete($cer)
  }
}

# ---------------------------------------------------------------- HKLM:
# HKEY_LOCAL_MACHINE, as the registry provider shows it
# (about_Registry_Provider:
# https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_registry_provider),
# for the paths renewd's scripts use: `HKLM:\<key>` and
# `Registry::HKEY_LOCAL_MACHINE\<key>`. Get-Item of a key gives a
# RegistryKey-like object: GetValueNames(), GetValueKind(name) (a
# RegistryValueKind), GetValue(name, default, options) (string for
# REG_SZ, byte[] for REG_BINARY; DoNotExpandEnvironmentNames is the only
# option renewd passes)
# (https://learn.microsoft.com/dotnet/api/microsoft.win32.registrykey);
# Get-ItemProperty -Name gives the value as a property; Set-ItemProperty
# -Type String|Binary writes it
# (https://learn.microsoft.com/powershell/module/microsoft.powershell.management/set-itemproperty?view=powershell-5.1).
# Key and value names are case-insensitive, as on Windows. A key is
# RENEWD_WIN_ROOT/emu/hklm/<key, lowercase, \ as />.json:
# {"<value name>": {"kind": "String"|"Binary", "value": "<text or hex>"}}.
function Get-RenewdRegFile([string]$Path) {
  if ($Path -notmatch '^(?:HKLM:|Registry::HKEY_LOCAL_MACHINE)\\(.+)\z') { return $null }
  $rel = ($Matches[1].TrimEnd('\').ToLowerInvariant() -split '\\') -join '/'
  return [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'hklm', $rel + '.json')
}

function Read-RenewdRegKey([string]$File) {
  $h = [ordered]@{}
  $o = [System.IO.File]::ReadAllText($File) | ConvertFrom-Json
  foreach ($p in $o.PSObject.Properties) { $h[$p.Name] = $p.Value }
  return $h
}

function Find-RenewdRegValue($Values, [string]$Name) {
  foreach ($k in $Values.Keys) { if ([string]::Equals($k, $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return $k } }
  return $null
}

function ConvertFrom-RenewdRegValue($V) {
  if ($V.kind -eq 'Binary') {
    $h = [string]$V.value
    # (the comma keeps the byte[] one object: a returned array is unrolled)
    return , [byte[]]@(for ($i = 0; $i -lt $h.Length; $i += 2) { [System.Convert]::ToByte($h.Substring($i, 2), 16) })
  }
  return [string]$V.value
}

function New-RenewdRegKeyObject([string]$File) {
  $k = [pscustomobject]@{ File = $File }
  $k | Add-Member ScriptMethod GetValueNames { return [string[]]@((Read-RenewdRegKey $this.File).Keys) }
  $k | Add-Member ScriptMethod GetValueKind {
    param([string]$n)
    $vals = Read-RenewdRegKey $this.File
    $key = Find-RenewdRegValue $vals $n
    if (-not $key) { throw "The specified registry value does not exist: $n" }
    return [Microsoft.Win32.RegistryValueKind]($vals[$key].kind)
  }
  $k | Add-Member ScriptMethod GetValue {
    param([string]$n, $default, $options)
    $vals = Read-RenewdRegKey $this.File
    $key = Find-RenewdRegValue $vals $n
    if (-not $key) { return $default }
    return , (ConvertFrom-RenewdRegValue $vals[$key])
  }
  return $k
}

function Test-RenewdRegPath([string]$Path) {
  return [bool]$env:RENEWD_WIN_ROOT -and ($Path -match '^(?:HKLM:|Registry::HKEY_LOCAL_MACHINE)\\')
}

function Get-ItemProperty {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Path, [string[]]$LiteralPath, [Parameter(Position = 1)][string[]]$Name)
  $p = @($Path) + @($LiteralPath) | Where-Object { $_ }
  if (-not ($p | Where-Object { Test-RenewdRegPath $_ })) { return Microsoft.PowerShell.Management\Get-ItemProperty @PSBoundParameters }
  foreach ($one in $p) {
    $f = Get-RenewdRegFile $one
    if (-not $f -or -not [System.IO.File]::Exists($f)) {
      Write-Error -Message "Cannot find path '$one' because it does not exist." -Category ObjectNotFound
      continue
    }
    $vals = Read-RenewdRegKey $f
    $o = [ordered]@{}
    foreach ($n in $(if ($Name) { $Name } else { @($vals.Keys) })) {
      $key = Find-RenewdRegValue $vals $n
      if (-not $key) {
        Write-Error -Message "Property $n does not exist at path $one." -Category InvalidArgument
        continue
      }
      $o[$key] = ConvertFrom-RenewdRegValue $vals[$key]
    }
    if ($o.Count -gt 0) { [pscustomobject]$o }
  }
}

function Set-ItemProperty {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Path, [string[]]$LiteralPath, [Parameter(Position = 1)][string]$Name,
    [Parameter(Position = 2)]$Value, [string]$Type)
  $p = @($Path) + @($LiteralPath) | Where-Object { $_ }
  if (-not ($p | Where-Object { Test-RenewdRegPath $_ })) { return Microsoft.PowerShell.Management\Set-ItemProperty @PSBoundParameters }
  foreach ($one in $p) {
    $f = Get-RenewdRegFile $one
    if (-not $f -or -not [System.IO.File]::Exists($f)) {
      Write-Error -Message "Cannot find path '$one' because it does not exist." -Category ObjectNotFound
      continue
    }
    if (@('String', 'Binary') -notcontains $Type) { throw "renewd emulator: Set-ItemProperty -Type '$Type' is not emulated (String, Binary)" }
    $vals = Read-RenewdRegKey $f
    $key = Find-RenewdRegValue $vals $Name
    if (-not $key) { $key = $Name }
    $text = $(if ($Type -eq 'Binary') { (@([byte[]]$Value | ForEach-Object { $_.ToString('X2') }) -join '') } else { [string]$Value })
    $vals[$key] = [ordered]@{ kind = $Type; value = $text }
    [System.IO.File]::WriteAllText($f, (ConvertTo-Json -InputObject $vals -Depth 3))
  }
}

# ---------------------------------------------------------------- services
# The service control manager, for what renewd's scripts use: Get-Service
# -Name (https://learn.microsoft.com/powershell/module/microsoft.powershell.management/get-service?view=powershell-5.1),
# Restart-Service -InputObject -Force
# (https://learn.microsoft.com/powershell/module/microsoft.powershell.management/restart-service?view=powershell-5.1)
# and the service object's WaitForStatus(status, timeout), which throws when
# the time runs out
# (https://learn.microsoft.com/dotnet/api/system.serviceprocess.servicecontroller.waitforstatus).
# A service is RENEWD_WIN_ROOT/emu/services/<name>: one line,
# "<Status> <StartType>" (Running Automatic, Stopped Disabled, ...); a
# disabled service cannot be started. Every restart is logged to
# emu/services.log ("<epoch seconds> restart <name>"), as is iisreset's
# (C:\Windows\System32\iisreset.exe, written by contrib/lab/winhost).
# Names are case-insensitive. A service with a start of its own (SQL Server:
# Sql.ps1) says at Restart-Service why it cannot start: it is Stopped.
function Get-RenewdServiceFile([string]$Name) {
  $d = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'services')
  if (-not [System.IO.Directory]::Exists($d) -or $Name -match '[\\/]') { return $null }
  foreach ($f in [System.IO.Directory]::GetFiles($d)) {
    if ([string]::Equals([System.IO.Path]::GetFileName($f), $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return $f }
  }
  return $null
}

function New-RenewdService([string]$File) {
  $l = ([System.IO.File]::ReadAllText($File).Trim() -split '\s+')
  $o = [pscustomobject]@{ Name = [System.IO.Path]::GetFileName($File); Status = $l[0]; StartType = $l[1]; File = $File }
  $o | Add-Member ScriptMethod WaitForStatus {
    param($Want, $Timeout)
    $now = ([System.IO.File]::ReadAllText($this.File).Trim() -split '\s+')[0]
    if ($now -ne [string]$Want) { throw 'Time out has expired and the operation has not been completed.' }
  }
  return $o
}

function Get-Service {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Name)
  foreach ($n in $Name) {
    $f = Get-RenewdServiceFile $n
    if ($f) { New-RenewdService $f }
    else { Write-Error -Message "Cannot find any service with service name '$n'." -Category ObjectNotFound }
  }
}

function Restart-Service {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Name, $InputObject, [switch]$Force)
  $names = $(if ($InputObject) { @($InputObject | ForEach-Object { $_.Name }) } else { $Name })
  foreach ($n in $names) {
    $f = Get-RenewdServiceFile $n
    if (-not $f) { Write-Error -Message "Cannot find any service with service name '$n'." -Category ObjectNotFound; continue }
    $st = ([System.IO.File]::ReadAllText($f).Trim() -split '\s+')
    if ($st[1] -eq 'Disabled') {
      Write-Error -Message "Service '$n ($n)' cannot be started due to the following error: Cannot start service $n on computer '.'." -Category OpenError
      continue
    }
    $why = Invoke-RenewdServiceStart ([System.IO.Path]::GetFileName($f))
    [System.IO.File]::WriteAllText($f, "$(if ($why) { 'Stopped' } else { 'Running' }) $($st[1])`n")
    [System.IO.File]::AppendAllText([System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'services.log'),
      "$([DateTimeOffset]::UtcNow.ToUnixTimeSeconds()) restart $([System.IO.Path]::GetFileName($f))`n")
    if ($why) { Write-Error -Message "Failed to start service '$n ($n)'." -Category OpenError }
    if ([System.IO.Path]::GetFileName($f) -eq 'HealthService') { Start-RenewdHealthService }
  }
}

# ---------------------------------------------------------------- the event log
# Get-WinEvent as renewd's scripts call it
# (https://learn.microsoft.com/powershell/module/microsoft.powershell.diagnostics/get-winevent?view=powershell-5.1):
# -ListLog <name> gives the log (nothing, with an error, when there is no
# such log); -FilterHashtable with LogName, Id (one or several),
# ProviderName and StartTime (events at or after it) gives the matching
# events newest first, -MaxEvents of them; none is an error
# ("No events were found that match the specified selection criteria.").
# An event has Id, ProviderName, TimeCreated (local time), RecordId and
# Message. A log is RENEWD_WIN_ROOT/emu/events/<log>.jsonl, one event a
# line: {"id": 1, "provider": "...", "time": <epoch seconds>, "record":
# <n>, "message": "..."}.
function Get-WinEvent {
  [CmdletBinding()]
  param([string[]]$ListLog, [hashtable]$FilterHashtable, [long]$MaxEvents = [long]::MaxValue)
  $dir = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'events')
  if ($ListLog) {
    foreach ($l in $ListLog) {
      $f = [System.IO.Path]::Combine($dir, $l + '.jsonl')
      if ($l -notmatch '[\\/]' -and [System.IO.File]::Exists($f)) { [pscustomobject]@{ LogName = $l } }
      else { Write-Error -Message "There is not an event log on the localhost computer that matches `"$l`"." -Category ObjectNotFound }
    }
    return
  }
  $log = [string]$FilterHashtable['LogName']
  $f = [System.IO.Path]::Combine($dir, $log + '.jsonl')
  $ids = @($FilterHashtable['Id'] | Where-Object { $null -ne $_ } | ForEach-Object { [int]$_ })
  $prov = $FilterHashtable['ProviderName']
  $since = $FilterHashtable['StartTime']
  $zero = [DateTime]::new(1970, 1, 1, 0, 0, 0, [DateTimeKind]::Utc)
  $all = @()
  if ($log -notmatch '[\\/]' -and [System.IO.File]::Exists($f)) {
    $all = @(foreach ($line in [System.IO.File]::ReadAllLines($f)) {
        if (-not $line.Trim()) { continue }
        $e = $line | ConvertFrom-Json
        [pscustomobject]@{ Id = [int]$e.id; ProviderName = [string]$e.provider; TimeCreated = $zero.AddSeconds([double]$e.time).ToLocalTime()
          RecordId = [long]$e.record; Message = [string]$e.message }
      })
  }
  $hits = @($all | Where-Object {
      ($ids.Count -eq 0 -or $ids -contains $_.Id) -and (-not $prov -or $_.ProviderName -eq [string]$prov) -and
      (-not $since -or $_.TimeCreated -ge ([DateTime]$since))
    } | Sort-Object -Property RecordId -Descending | Select-Object -First $MaxEvents)
  if ($hits.Count -eq 0) { Write-Error -Message 'No events were found that match the specified selection criteria.' -Category ObjectNotFound; return }
  $hits
}

# ---------------------------------------------------------------- the v2 template extension
# X509Extension.Format() of the certificate template extension
# (1.3.6.1.4.1.311.21.7, CertificateTemplate ::= SEQUENCE { templateID OID,
# major INTEGER, minor INTEGER OPTIONAL }: MS-WCCE 2.2.2.7.7.2,
# https://learn.microsoft.com/openspecs/windows_protocols/ms-wcce/9da866e5-9ce9-4a83-9064-0d20af8b2ccf)
# as Windows renders it: "Template=<name>(<OID>), Major Version
# Number=<n>, Minor Version Number=<n>" (one line; "\r\n" between the
# parts when multi-line), the name when the machine knows the template,
# else only the OID. .NET off Windows renders it as hex. The machine's
# templates: RENEWD_WIN_ROOT/emu/templates, "<OID> <name>" a line. Other
# extensions: .NET's own Format. A type-data member comes before the
# adapted .NET method (about_Types.ps1xml:
# https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_types.ps1xml).
# The member's script block runs outside this module: the function it
# calls is exported.
function Format-RenewdTemplateExtension($Ext, [bool]$MultiLine) {
  $r = [System.Formats.Asn1.AsnReader]::new([byte[]]$Ext.RawData, [System.Formats.Asn1.AsnEncodingRules]::DER)
  $seq = $r.ReadSequence()
  $oid = $seq.ReadObjectIdentifier()
  $major = $seq.ReadInteger()
  $minor = $(if ($seq.HasData) { $seq.ReadInteger() } else { 0 })
  $name = $null
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'templates')
  if ([System.IO.File]::Exists($f)) {
    foreach ($l in [System.IO.File]::ReadAllLines($f)) {
      $p = $l.Split(' ', 2)
      if ($p.Count -eq 2 -and $p[0] -eq $oid) { $name = $p[1] }
    }
  }
  $t = $(if ($name) { "Template=$name($oid)" } else { "Template=$oid" })
  $parts = @($t, "Major Version Number=$major", "Minor Version Number=$minor")
  if ($MultiLine) { return ($parts -join "`r`n") + "`r`n" }
  return $parts -join ', '
}

if ($env:RENEWD_WIN_ROOT) {
  Update-TypeData -TypeName System.Security.Cryptography.X509Certificates.X509Extension -MemberType ScriptMethod -MemberName Format -Force -Value {
    param([bool]$MultiLine)
    if ($this.Oid.Value -eq '1.3.6.1.4.1.311.21.7') { return Format-RenewdTemplateExtension $this $MultiLine }
    return [System.Security.Cryptography.AsnEncodedData].GetMethod('Format').Invoke($this, @($MultiLine))
  }
  foreach ($st in 'My', 'Root', 'CA', 'REQUEST') {
    [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'cert', 'LocalMachine', $st))
  }
  $script:RenewdHelpers['rdw_path_of'] = 'ConvertFrom-RenewdWindowsPath'
  Register-RenewdHelpers
  # (removing the module, Import-Module -Force included, ends the replacements)
  $ExecutionContext.SessionState.Module.OnRemove = { $ExecutionContext.InvokeCommand.PreCommandLookupAction = $null }
  $mods = Join-Path $PSScriptRoot 'Modules'
  if (($env:PSModulePath -split [System.IO.Path]::PathSeparator) -notcontains $mods) { $env:PSModulePath = $mods + [System.IO.Path]::PathSeparator + $env:PSModulePath }
  Export-ModuleMember -Function (@('ConvertFrom-RenewdWindowsPath', 'Format-RenewdTemplateExtension', 'Get-ChildItem', 'Get-Item', 'Test-Path',
      'Remove-Item', 'Get-ItemProperty', 'Set-ItemProperty', 'Get-Service', 'Restart-Service', 'Get-WinEvent',
      'Invoke-WebRequest', 'New-ScheduledTaskAction', 'New-ScheduledTaskPrincipal', 'New-ScheduledTaskSettingsSet', 'Register-ScheduledTask',
      'Start-ScheduledTask', 'Get-ScheduledTask', 'Get-ScheduledTaskInfo', 'Stop-ScheduledTask', 'Unregister-ScheduledTask',
      'Get-RenewdEmuCert', 'Read-RenewdKeyProv', 'Write-RenewdKeyFile', 'Write-RenewdKeyProv', 'Get-RenewdKeyFileRel',
      'Get-RenewdCertStoreDir', 'Get-RenewdV1Template') + @($script:RenewdHelpers.Values))
} else {
  Export-ModuleMember -Function ConvertFrom-RenewdWindowsPath
}
