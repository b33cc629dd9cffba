# service_lib.ps1, service_probe.ps1, service_run.ps1 (windows.service), as
# renewd builds windows.service.probe / windows.service.run. Get-Service and
# Restart-Service are mocked; a service is what Get-Service returns, a
# ServiceController (Status, StartType, WaitForStatus(status, timeout) that
# throws System.ServiceProcess.TimeoutException when the time runs out):
# https://learn.microsoft.com/dotnet/api/system.serviceprocess.servicecontroller.waitforstatus
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Get-RenewdFunctions 'windows.service.run')
  # %windir% is always set on Windows
  $env:windir = 'C:\Windows'
  function New-Svc([string]$Status = 'Running', [string]$Fail = '') {
    $s = [pscustomobject]@{ Status = $Status; StartType = 'Automatic'; Waited = $null; Fail = $Fail }
    $s | Add-Member ScriptMethod WaitForStatus {
      param($status, $timeout)
      if ($this.Fail) { throw $this.Fail }
      $this.Waited = "$status/$([int]$timeout.TotalSeconds)"
    }
    return $s
  }
}

Describe 'rdw_service_name' {
  It 'is W3SVC for iisreset, whatever the service says' {
    $P = [pscustomobject]@{ action = 'iisreset'; service = 'x;y' }
    rdw_service_name | Should -BeExactly 'W3SVC'
  }
  It 'accepts <v>' -ForEach @(@{ v = 'NDESConnector' }, @{ v = 'MSSQL$SQLEXPRESS' }, @{ v = 'Health Service' }) {
    $P = [pscustomobject]@{ action = 'restart'; service = $v }
    rdw_service_name | Should -BeExactly $v
  }
  It 'rejects <v>' -ForEach @(
    @{ v = '' }, @{ v = "W3SVC`n" }, @{ v = 'a;b' }, @{ v = "it's" }, @{ v = 'a' * 257 }, @{ v = "a`u{2019}b" }
  ) {
    $P = [pscustomobject]@{ action = 'restart'; service = $v }
    { rdw_service_name } | Should -Throw "rd_fail: service name * is not valid"
  }
}

Describe 'windows.service.probe' {
  It 'reports a running service' {
    Mock Get-Service { New-Svc 'Running' } -ParameterFilter { $Name -eq 'HealthService' }
    $r = Invoke-RenewdScript 'windows.service.probe' @{ action = 'restart'; service = 'HealthService' }
    $r.exists | Should -BeTrue
    $r.status | Should -BeExactly 'Running'
    $r.start_type | Should -BeExactly 'Automatic'
    $r.iisreset | Should -BeFalse
    [Math]::Abs($r.now - [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()) | Should -BeLessThan 60
  }
  It 'reports a missing service (Get-Service finds none)' {
    Mock Get-Service { } -ParameterFilter { $Name -eq 'Nope' }
    $r = Invoke-RenewdScript 'windows.service.probe' @{ action = 'restart'; service = 'Nope' }
    $r.exists | Should -BeFalse
    $r.status | Should -BeNullOrEmpty
  }
  It 'looks for iisreset.exe under %windir%\System32 for iisreset' {
    Mock Get-Service { New-Svc } -ParameterFilter { $Name -eq 'W3SVC' }
    Mock Join-Path { 'C:\Windows\System32\iisreset.exe' } -ParameterFilter { $Path -eq 'C:\Windows' -and $ChildPath -eq 'System32\iisreset.exe' }
    Mock Test-Path { $true } -ParameterFilter { $LiteralPath -eq 'C:\Windows\System32\iisreset.exe' }
    $r = Invoke-RenewdScript 'windows.service.probe' @{ action = 'iisreset' }
    $r.name | Should -BeExactly 'W3SVC'
    $r.iisreset | Should -BeTrue
  }
}

Describe 'windows.service.run' {
  It 'restarts with -Force and waits for Running at most the timeout' {
    $svc = New-Svc
    Mock Get-Service { $svc } -ParameterFilter { $Name -eq 'NDESConnector' }
    Mock Restart-Service { } -ParameterFilter { $InputObject[0] -eq $svc -and $Force }
    $r = Invoke-RenewdScript 'windows.service.run' @{ action = 'restart'; service = 'NDESConnector'; timeout = '30' }
    $r.exit | Should -Be 0
    $r.status | Should -BeExactly 'Running'
    $svc.Waited | Should -BeExactly 'Running/30'
    Should -Invoke Restart-Service -Times 1 -Exactly
  }
  It 'takes 90 s for a timeout of <t>' -ForEach @(@{ t = '0' }, @{ t = '3601' }, @{ t = '-5' }) {
    $svc = New-Svc
    Mock Get-Service { $svc }
    Mock Restart-Service { }
    $null = Invoke-RenewdScript 'windows.service.run' @{ action = 'restart'; service = 'X'; timeout = $t }
    $svc.Waited | Should -BeExactly 'Running/90'
  }
  It 'reports a restart that fails, or a wait that times out, as exit 1 with the message' {
    Mock Get-Service { New-Svc 'Stopped' }
    Mock Restart-Service { throw 'Service X cannot be started' }
    $r = Invoke-RenewdScript 'windows.service.run' @{ action = 'restart'; service = 'X'; timeout = '5' }
    $r.exit | Should -Be 1
    $r.text | Should -BeLike '*cannot be started*'
    $r.status | Should -BeExactly 'Stopped'
    Mock Get-Service { New-Svc 'StartPending' 'Time out has expired and the operation has not been completed.' }
    Mock Restart-Service { }
    $r = Invoke-RenewdScript 'windows.service.run' @{ action = 'restart'; service = 'X'; timeout = '5' }
    $r.exit | Should -Be 1
    $r.text | Should -BeLike '*Time out has expired*'
  }
  It 'runs iisreset /restart /timeout:N for iisreset, and reports its exit and text' {
    Mock Get-Service { New-Svc } -ParameterFilter { $Name -eq 'W3SVC' }
    Mock Join-Path { 'C:\Windows\System32\iisreset.exe' } -ParameterFilter { $Path -eq 'C:\Windows' }
    Mock rdw_native { [ordered]@{ exit = 1062; text = 'Restart attempt failed.' } } -ParameterFilter {
      $Exe -eq 'C:\Windows\System32\iisreset.exe' -and ($ArgList -join ' ') -eq '/restart /timeout:45'
    }
    $r = Invoke-RenewdScript 'windows.service.run' @{ action = 'iisreset'; timeout = '45' }
    $r.exit | Should -Be 1062
    $r.text | Should -BeExactly 'Restart attempt failed.'
    Should -Invoke rdw_native -Times 1 -Exactly
  }
}
