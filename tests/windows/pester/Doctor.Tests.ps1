# doctor.ps1 (windows.doctor, renewd doctor's Windows preflight), as renewd
# builds it, against the emulation module (emu/RenewdWindows.psm1, which
# renewd-pshost imports): a machine under $env:RENEWD_WIN_ROOT with its
# registry (.NET's Release, MSCEP\CAInfo), services and Application log.
# What the emulation does not model is mocked: the administrator token,
# where certreq/certutil are, certutil -ping (rdw_native), the
# ScheduledTasks module and WebAdministration. doctor.ps1 only reports;
# tests/unit/test_windows_doctor.c checks what C makes of the reports.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Get-RenewdFunctions 'windows.doctor')
  # the emulation module exports the machine only when it is imported with
  # a root (renewd-pshost imported it without one for the Pester run)
  $script:OldEnv = @{}
  foreach ($v in 'RENEWD_WIN_ROOT', 'windir', 'SystemRoot', 'ProgramData') { $script:OldEnv[$v] = [Environment]::GetEnvironmentVariable($v) }
  $script:Root = Join-Path ([System.IO.Path]::GetTempPath()) ('renewd-doctor-' + [guid]::NewGuid().ToString('N'))
  $env:RENEWD_WIN_ROOT = $script:Root
  $script:Emu = Join-Path $PSScriptRoot '../emu/RenewdWindows.psm1'
  Import-Module $script:Emu -Force
  function Set-EmuFile([string]$Rel, [string]$Text) {
    $f = [System.IO.Path]::Combine($script:Root, 'emu', $Rel)
    $null = [System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($f))
    [System.IO.File]::WriteAllText($f, $Text)
  }
  function Reset-Emu {
    if ([System.IO.Directory]::Exists($script:Root)) { [System.IO.Directory]::Delete($script:Root, $true) }
    Set-EmuFile 'hklm/software/microsoft/net framework setup/ndp/v4/full.json' '{"Release": {"kind": "String", "value": "528449"}}'
    Set-EmuFile 'services/Schedule' "Running Automatic`n"
    Set-EmuFile 'services/W3SVC' "Running Automatic`n"
    Set-EmuFile 'events/Application.jsonl' ('{"id": 1, "provider": "Microsoft-Windows-NetworkDeviceEnrollmentService", "time": 1700000000, "record": 7, "message": "x"}' + "`n")
  }
  # the ScheduledTasks module (Windows only): what Mock needs to exist
  # https://learn.microsoft.com/powershell/module/scheduledtasks/get-scheduledtask
  function Get-ScheduledTask {
    [CmdletBinding()]
    param([Parameter(Position = 0)][string[]]$TaskName, [string[]]$TaskPath)
    throw 'Get-ScheduledTask: not mocked in this test'
  }
  $script:Base = @{ config = 'ca01.corp.example\Corp Issuing CA'; services = @('W3SVC'); sites = @(); pools = @() }
}
AfterAll {
  Remove-PSDrive -Name C -Scope Global -ErrorAction SilentlyContinue
  foreach ($v in $script:OldEnv.Keys) { [Environment]::SetEnvironmentVariable($v, $script:OldEnv[$v]) }
  Import-Module $script:Emu -Force # as renewd-pshost left it: no machine
  if ([System.IO.Directory]::Exists($script:Root)) { [System.IO.Directory]::Delete($script:Root, $true) }
}

Describe 'windows.doctor' {
  BeforeEach {
    Reset-Emu
    Mock rdw_doctor_admin { $true }
    Mock rdw_doctor_tool { 'C:\Windows\system32\' + $Name }
    Mock Get-ScheduledTask { @() }
    Mock rdw_native { [ordered]@{ exit = 0; text = 'CertUtil: -ping command completed successfully.' } } -ParameterFilter {
      $Exe -eq 'C:\Windows\system32\certutil.exe' -and ($ArgList -join '|') -eq '-config|ca01.corp.example\Corp Issuing CA|-ping'
    }
  }

  It 'reports a ready server' {
    $r = Invoke-RenewdScript 'windows.doctor' $script:Base
    $r.ps_version | Should -Match '^\d+\.\d+'
    $r.net_release | Should -Be 528449
    $r.admin | Should -BeTrue
    $r.certreq | Should -BeExactly 'C:\Windows\system32\certreq.exe'
    $r.certutil | Should -BeExactly 'C:\Windows\system32\certutil.exe'
    $r.schedule.service | Should -BeExactly 'Running'
    $r.schedule.ok | Should -BeTrue
    $r.eventlog.ok | Should -BeTrue
    $r.config_source | Should -BeExactly 'runbook'
    $r.ping.exit | Should -Be 0
    @($r.services).Count | Should -Be 1
    $r.services[0].name | Should -BeExactly 'W3SVC'
    $r.services[0].exists | Should -BeTrue
    $r.services[0].status | Should -BeExactly 'Running'
    Should -Invoke rdw_native -Times 1 -Exactly
  }

  It 'reports what is missing: no .NET 4 Release, no token, no tools, no scheduler, no Application log, no service' {
    [System.IO.File]::Delete([System.IO.Path]::Combine($script:Root, 'emu', 'hklm', 'software', 'microsoft', 'net framework setup', 'ndp', 'v4', 'full.json'))
    [System.IO.File]::Delete([System.IO.Path]::Combine($script:Root, 'emu', 'services', 'Schedule'))
    [System.IO.File]::Delete([System.IO.Path]::Combine($script:Root, 'emu', 'events', 'Application.jsonl'))
    Mock rdw_doctor_admin { throw 'no token' }
    Mock rdw_doctor_tool { '' }
    Mock Get-ScheduledTask { throw 'Das System kann die angegebene Datei nicht finden.' }
    $r = Invoke-RenewdScript 'windows.doctor' @{ config = ''; services = @('NDESConnectorSvc'); sites = @(); pools = @() }
    $r.net_release | Should -BeNullOrEmpty
    $r.admin | Should -BeFalse
    $r.certreq | Should -BeExactly ''
    $r.certutil | Should -BeExactly ''
    $r.schedule.service | Should -BeExactly ''
    $r.schedule.ok | Should -BeFalse
    $r.schedule.error | Should -BeLike '*Datei nicht finden*'
    $r.eventlog.ok | Should -BeFalse
    $r.eventlog.error | Should -Not -BeNullOrEmpty
    $r.ping | Should -BeNullOrEmpty
    $r.services[0].exists | Should -BeFalse
    Should -Invoke rdw_native -Times 0 -Exactly
  }

  It 'reads an empty Application log as readable' {
    Set-EmuFile 'events/Application.jsonl' ''
    (Invoke-RenewdScript 'windows.doctor' $script:Base).eventlog.ok | Should -BeTrue
  }

  It 'pings the CA NDES names in MSCEP\CAInfo when the runbook has none, and reports the exit code as it is' {
    Set-EmuFile 'hklm/software/microsoft/cryptography/mscep/cainfo.json' '{"Configuration": {"kind": "String", "value": "ca02.corp.example\\Other CA"}}'
    Mock rdw_native { [ordered]@{ exit = -2147023174; text = 'CertUtil: Der RPC-Server ist nicht verfügbar.' } } -ParameterFilter {
      ($ArgList -join '|') -eq '-config|ca02.corp.example\Other CA|-ping'
    }
    $r = Invoke-RenewdScript 'windows.doctor' @{ config = ''; services = @(); sites = @(); pools = @() }
    $r.config | Should -BeExactly 'ca02.corp.example\Other CA'
    $r.config_source | Should -BeExactly 'cainfo'
    $r.ping.exit | Should -Be -2147023174
    $r.ping.text | Should -BeLike '*RPC-Server*'
  }

  It 'reports no configuration when neither the runbook nor NDES names one' {
    $r = Invoke-RenewdScript 'windows.doctor' @{ config = ''; services = @(); sites = @(); pools = @() }
    $r.config_source | Should -BeExactly ''
    $r.ping | Should -BeNullOrEmpty
  }

  It 'reports IIS sites and application pools through WebAdministration' {
    Mock Import-Module { } -ParameterFilter { $Name -eq 'WebAdministration' }
    Mock Test-Path { $LiteralPath -eq 'IIS:\Sites\Default Web Site' } -ParameterFilter { $LiteralPath -like 'IIS:\Sites\*' }
    Mock Get-ItemProperty { [pscustomobject]@{ identityType = 'SpecificUser'; userName = 'CORP\svc_ndes' } } -ParameterFilter {
      $LiteralPath -eq 'IIS:\AppPools\SCEP' -and $Name -eq 'processModel'
    }
    Mock Get-ItemProperty { throw 'Cannot find path' } -ParameterFilter { $LiteralPath -eq 'IIS:\AppPools\Nope' }
    $r = Invoke-RenewdScript 'windows.doctor' @{ config = ''; services = @(); sites = @('Default Web Site', 'Gone'); pools = @('SCEP', 'Nope') }
    $r.webadmin | Should -BeTrue
    $r.sites[0].exists | Should -BeTrue
    $r.sites[1].exists | Should -BeFalse
    $r.pools[0].identity | Should -BeExactly 'CORP\svc_ndes'
    $r.pools[1].exists | Should -BeFalse
  }

  It 'reports no WebAdministration module' {
    Mock Import-Module { throw 'The specified module was not loaded' } -ParameterFilter { $Name -eq 'WebAdministration' }
    $r = Invoke-RenewdScript 'windows.doctor' @{ config = ''; services = @(); sites = @(); pools = @('SCEP') }
    $r.webadmin | Should -BeFalse
    $r.pools[0].exists | Should -BeFalse
  }

  It 'refuses <what>' -ForEach @(
    @{ what = 'a CA configuration without a CA name'; p = @{ config = 'ca01.corp.example'; services = @(); sites = @(); pools = @() }; want = "*CA configuration 'ca01.corp.example' is not*" }
    @{ what = 'a quote in the CA configuration'; p = @{ config = 'ca01\"x'; services = @(); sites = @(); pools = @() }; want = '*CA configuration*' }
    @{ what = 'a wildcard service name'; p = @{ config = ''; services = @('W3*'); sites = @(); pools = @() }; want = "*service name 'W3`*' is not valid*" }
    @{ what = 'a newline in a pool name'; p = @{ config = ''; services = @(); sites = @(); pools = @("SCEP`n") }; want = '*application pool name*' }
  ) {
    Mock Import-Module { }
    { Invoke-RenewdScript 'windows.doctor' $p } | Should -Throw $want
  }
}
