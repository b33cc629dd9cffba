# event_query.ps1 (windows.event_verify), log_query.ps1 (windows.log_verify)
# and ndes_getcacaps.ps1 (windows.ndes_getcacaps), as renewd builds
# windows.event.query / windows.log.query / windows.ndes.getcacaps, with the
# parameters event_verify.c, log_verify.c and ndes_getcacaps.c pack. Each
# output is checked for the shape those C parsers read.
# - Get-WinEvent is mocked with what Microsoft documents
#   (https://learn.microsoft.com/powershell/module/microsoft.powershell.diagnostics/get-winevent?view=powershell-5.1):
#   -ListLog gives the log or an error, -FilterHashtable -MaxEvents the
#   newest matching EventLogRecords (Id, ProviderName, TimeCreated in local
#   time, RecordId, Message) or an error when none match.
# - The text log is a real file. log_query opens it with .NET's
#   File.Open, which PowerShell cannot mock: the test makes the process's
#   current directory a test folder and the file a name there spelled as the
#   Windows path ("C:\...\NDESPlugin.log" is a relative file name on Linux).
# - Invoke-WebRequest is mocked; a failed request throws what Windows
#   PowerShell 5.1 throws, a WebException with its HttpWebResponse
#   (https://learn.microsoft.com/dotnet/api/system.net.webexception.response).
#   PowerShell 7 (the emulator's engine) throws HttpResponseException
#   instead, which the script reports without a status: see docs/WINDOWS.md.
class RenewdTestHttpResponse : System.Net.WebResponse {
  [object]$StatusCode
}

BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  $ndes = 'Microsoft-Windows-NetworkDeviceEnrollmentService'
  $zero = [DateTime]::new(1970, 1, 1, 0, 0, 0, [DateTimeKind]::Utc)
  # an EventLogRecord as Get-WinEvent returns it
  function New-Event([int]$Id, [long]$Epoch, [long]$Record, [string]$Message = 'started', [string]$Provider = $ndes) {
    [pscustomobject]@{ Id = $Id; ProviderName = $Provider; TimeCreated = $zero.AddSeconds($Epoch).ToLocalTime()
                       RecordId = $Record; Message = $Message }
  }
  # what event_verify.c's args() packs
  function Query([hashtable]$Over = @{}) {
    $p = @{ log = 'Application'; id = 1; provider = $ndes; since = 0; wait = 0; failure_ids = @() }
    foreach ($k in $Over.Keys) { $p[$k] = $Over[$k] }
    Invoke-RenewdScript 'windows.event.query' $p
  }
  function Use-Log([string]$Log = 'Application') {
    $script:LogName = $Log
    Mock Get-WinEvent { [pscustomobject]@{ LogName = $script:LogName } } -ParameterFilter { $ListLog -eq $script:LogName }
  }
}

Describe 'windows.event.query' {
  BeforeEach { Mock Start-Sleep { } }
  It 'reports a missing log and queries nothing else' {
    Mock Get-WinEvent { Write-Error 'There is not an event log on the localhost computer that matches "Nope".' } -ParameterFilter { $ListLog }
    Mock Get-WinEvent { throw 'queried' } -ParameterFilter { $FilterHashtable }
    $r = Query @{ log = 'Nope' }
    $r.log_exists | Should -BeFalse
    $r.found | Should -BeFalse
    $r.failure | Should -BeNullOrEmpty
    Should -Invoke Get-WinEvent -Times 0 -Exactly -ParameterFilter { $FilterHashtable }
  }
  It 'reports the newest event: time (UTC epoch), record id, provider, message' {
    Use-Log
    Mock Get-WinEvent { New-Event 1 1796025600 42 "The Network Device Enrollment Service started successfully." } -ParameterFilter {
      $FilterHashtable -and $FilterHashtable[0].LogName -eq 'Application' -and $FilterHashtable[0].Id -eq 1 -and
      $FilterHashtable[0].ProviderName -eq $ndes -and -not $FilterHashtable[0].ContainsKey('StartTime') -and $MaxEvents -eq 1
    }
    $r = Query
    $r.log_exists | Should -BeTrue
    $r.found | Should -BeTrue
    $r.time | Should -Be 1796025600
    $r.record_id | Should -Be 42
    $r.provider | Should -BeExactly $ndes
    $r.message | Should -BeExactly 'The Network Device Enrollment Service started successfully.'
    $r.failure | Should -BeNullOrEmpty
    [Math]::Abs($r.now - [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()) | Should -BeLessThan 60
  }
  It 'asks only for events at or after since (StartTime in local time, as Get-WinEvent compares)' {
    Use-Log
    Mock Get-WinEvent { New-Event 1 1796025700 43 } -ParameterFilter {
      $FilterHashtable -and $FilterHashtable[0].StartTime -is [datetime] -and $FilterHashtable[0].StartTime.Kind -eq 'Local' -and
      $FilterHashtable[0].StartTime.ToUniversalTime() -eq $zero.AddSeconds(1796025600)
    }
    (Query @{ since = 1796025600 }).found | Should -BeTrue
    Should -Invoke Get-WinEvent -Times 1 -Exactly -ParameterFilter { $FilterHashtable }
  }
  It 'polls every 5 s until the event comes' {
    Use-Log
    $script:Polls = 0
    Mock Get-WinEvent {
      $script:Polls++
      if ($script:Polls -ge 3) { New-Event 1 1796025600 44 } else { Write-Error 'No events were found that match the specified selection criteria.' }
    } -ParameterFilter { $FilterHashtable }
    $r = Query @{ since = 1796025500; wait = 60 }
    $r.found | Should -BeTrue
    $r.record_id | Should -Be 44
    Should -Invoke Start-Sleep -Times 2 -Exactly -ParameterFilter { $Seconds -eq 5 }
  }
  It 'gives up when the wait is over: found false, time null' {
    Use-Log
    Mock Get-WinEvent { Write-Error 'No events were found that match the specified selection criteria.' } -ParameterFilter { $FilterHashtable }
    $r = Query @{ since = 1796025500; wait = 0 }
    $r.found | Should -BeFalse
    $r.time | Should -BeNullOrEmpty
    $r.record_id | Should -BeNullOrEmpty
    Should -Invoke Start-Sleep -Times 0 -Exactly
  }
  It 'reports a failure event of the same provider (its ids in one query), which ends the wait' {
    Use-Log 'Operations Manager'
    Mock Get-WinEvent { Write-Error 'No events were found that match the specified selection criteria.' } -ParameterFilter { $FilterHashtable -and $FilterHashtable[0].Id -eq 20053 }
    Mock Get-WinEvent { New-Event 20050 1796025650 9 ('x' * 400) 'OpsMgr Connector' } -ParameterFilter {
      $FilterHashtable -and ($FilterHashtable[0].Id -join ',') -eq '20049,20050' -and $FilterHashtable[0].ProviderName -eq 'OpsMgr Connector'
    }
    $r = Query @{ log = 'Operations Manager'; id = 20053; provider = 'OpsMgr Connector'; since = 1796025600; wait = 600; failure_ids = @(20049, 20050) }
    $r.found | Should -BeFalse
    $r.failure.id | Should -Be 20050
    $r.failure.time | Should -Be 1796025650
    $r.failure.message | Should -BeExactly ('x' * 300)
    Should -Invoke Start-Sleep -Times 0 -Exactly
  }
  It 'cuts a long message to 300 characters' {
    Use-Log
    Mock Get-WinEvent { New-Event 1 1796025600 45 ('m' * 1000) } -ParameterFilter { $FilterHashtable }
    (Query).message | Should -BeExactly ('m' * 300)
  }
  It 'fails when Get-WinEvent hands back another provider''s event' {
    Use-Log
    Mock Get-WinEvent { New-Event 1 1796025600 46 'x' 'Some-Other-App' } -ParameterFilter { $FilterHashtable }
    { Query } | Should -Throw "rd_fail: Get-WinEvent returned event 1 from 'Some-Other-App', not from '$ndes'"
  }
  It 'refuses a provider <p>' -ForEach @(@{ p = '' }, @{ p = 'Microsoft-*' }, @{ p = 'a?b' }, @{ p = 'a[bc]' }) {
    Mock Get-WinEvent { throw 'reached' }
    { Query @{ provider = $p } } | Should -Throw "rd_fail: event provider * must be one provider's exact name"
  }
  It 'writes the JSON event_verify.c reads (failure an object or null)' {
    Use-Log
    Mock Get-WinEvent { New-Event 1 1796025600 47 } -ParameterFilter { $FilterHashtable }
    $null = Query
    $script:RenewdOut | Should -Match '^\{"log_exists":true,"found":true,"time":1796025600,"record_id":47,"provider":"Microsoft-Windows-NetworkDeviceEnrollmentService","message":"started","now":[0-9]+,"failure":null\}$'
  }
}

Describe 'windows.log.query' {
  BeforeAll {
    $script:Cwd = [Environment]::CurrentDirectory
    [Environment]::CurrentDirectory = $TestDrive
    $script:LogPath = 'C:\Program Files\Microsoft Configuration Manager Policy Module\Logs\NDESPlugin.log'
    $script:LogFile = [System.IO.Path]::Combine($TestDrive, $script:LogPath)
    function Set-Log([string]$Text) { [System.IO.File]::WriteAllText($script:LogFile, $Text) }
    function LogQuery([string]$Contains, [int]$Wait = 0, [string]$Path = $script:LogPath) {
      Invoke-RenewdScript 'windows.log.query' @{ path = $Path; contains = $Contains; wait = $Wait }
    }
  }
  AfterAll { [Environment]::CurrentDirectory = $script:Cwd }
  BeforeEach {
    Mock Start-Sleep { }
    Mock Test-Path { [System.IO.File]::Exists($script:LogFile) } -ParameterFilter { $LiteralPath -eq $script:LogPath -and $PathType -eq 'Leaf' }
    if ([System.IO.File]::Exists($script:LogFile)) { [System.IO.File]::Delete($script:LogFile) }
  }
  It 'finds the last line with the text, without case' {
    Set-Log "a`r`nNDES thumbprint is ab`r`nERROR 12037`r`nndes THUMBPRINT is AB again`r`n"
    $r = LogQuery 'NDES thumbprint is AB'
    $r.exists | Should -BeTrue
    $r.found | Should -BeTrue
    $r.line | Should -BeExactly 'ndes THUMBPRINT is AB again'
    $script:RenewdOut | Should -Match '"errors":\[\]'
  }
  It 'reports the last three ERROR lines (an array, one line too) when the text is not there' {
    Set-Log "ERROR one`nok`nERROR two`nERROR three`nERROR four`n"
    $r = LogQuery 'NDES thumbprint is CD'
    $r.found | Should -BeFalse
    $r.line | Should -BeNullOrEmpty
    $r.errors | Should -Be @('ERROR two', 'ERROR three', 'ERROR four')
    Set-Log ("ERROR " + ('e' * 500) + "`n")
    $null = LogQuery 'NDES thumbprint is CD'
    $script:RenewdOut | Should -Match ('"errors":\["ERROR e{294}"\]')
  }
  It 'reads the last MiB only' {
    Set-Log ("NDES thumbprint is EF`n" + ('.' * 1100000) + "`n")
    (LogQuery 'NDES thumbprint is EF').found | Should -BeFalse
  }
  It 'cuts a long line to 400 characters' {
    Set-Log ("NDES thumbprint is EF " + ('z' * 600))
    (LogQuery 'NDES thumbprint is EF').line.Length | Should -Be 400
  }
  It 'reports a missing file' {
    $r = LogQuery 'x'
    $r.exists | Should -BeFalse
    $r.found | Should -BeFalse
    $script:RenewdOut | Should -Match '"errors":\[\]'
  }
  It 'waits (every 5 s) for the line to be written' {
    Mock Start-Sleep { Set-Log "NDES thumbprint is 12`n" }
    $r = LogQuery 'NDES thumbprint is 12' 60
    $r.found | Should -BeTrue
    Should -Invoke Start-Sleep -Times 1 -Exactly -ParameterFilter { $Seconds -eq 5 }
  }
  It 'reads a file the service keeps open for writing' {
    Set-Log "NDES thumbprint is 34`n"
    $w = [System.IO.File]::Open($script:LogFile, 'Open', 'ReadWrite', 'ReadWrite')
    try { (LogQuery 'NDES thumbprint is 34').found | Should -BeTrue } finally { $w.Dispose() }
  }
  It 'refuses <why>' -ForEach @(
    @{ why = 'a relative path'; p = 'Logs\NDESPlugin.log'; c = 'x'; msg = "rd_fail: log file 'Logs\NDESPlugin.log' is not an absolute path" }
    @{ why = 'a path with ..'; p = 'C:\Logs\..\Windows\x.log'; c = 'x'; msg = 'rd_fail: log file * is not an absolute path' }
    @{ why = 'nothing to look for'; p = 'C:\x.log'; c = ''; msg = 'rd_fail: nothing to look for' }
  ) {
    { LogQuery $c 0 $p } | Should -Throw $msg
    Should -Invoke Test-Path -Times 0 -Exactly
  }
}

Describe 'windows.ndes.getcacaps' {
  BeforeAll {
    $url = 'https://ndes01.corp.example/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps'
    function Caps([string]$Url = $url, [int]$Timeout = 60) {
      Invoke-RenewdScript 'windows.ndes.getcacaps' @{ url = $Url; timeout = $Timeout }
    }
  }
  It 'reports the status and the capabilities, one a line (<what>)' -ForEach @(
    @{ what = 'text'; body = "POSTPKIOperation`r`nRenewal`r`n SHA-256 `r`n`r`nAES`n" }
    @{ what = 'bytes'; body = [System.Text.Encoding]::ASCII.GetBytes("POSTPKIOperation`r`nRenewal`r`n SHA-256 `r`n`r`nAES`n") }
  ) {
    $script:Body = $body
    Mock Invoke-WebRequest { [pscustomobject]@{ StatusCode = 200; Content = $script:Body } } -ParameterFilter {
      $Uri -eq $url -and $UseBasicParsing -and $TimeoutSec -eq 60 -and $MaximumRedirection -eq 0
    }
    $r = Caps
    $r.status | Should -Be 200
    $r.caps | Should -Be @('POSTPKIOperation', 'Renewal', 'SHA-256', 'AES')
    $r.web_status | Should -BeNullOrEmpty
    $r.error | Should -BeNullOrEmpty
  }
  It 'keeps one capability an array, and at most 32' {
    Mock Invoke-WebRequest { [pscustomobject]@{ StatusCode = 200; Content = "Renewal`r`n" } }
    $null = Caps
    $script:RenewdOut | Should -BeExactly '{"status":200,"web_status":null,"caps":["Renewal"],"error":null}'
    Mock Invoke-WebRequest { [pscustomobject]@{ StatusCode = 200; Content = ((1..40 | ForEach-Object { "c$_" }) -join "`n") } }
    @((Caps).caps).Count | Should -Be 32
  }
  It 'takes 60 s for a timeout of <t>' -ForEach @(@{ t = 0 }, @{ t = 601 }) {
    Mock Invoke-WebRequest { [pscustomobject]@{ StatusCode = 200; Content = 'Renewal' } } -ParameterFilter { $TimeoutSec -eq 60 }
    (Caps $url $t).status | Should -Be 200
    Should -Invoke Invoke-WebRequest -Times 1 -Exactly
  }
  It 'reports an HTTP error status from the WebException''s response (Windows PowerShell 5.1)' {
    Mock Invoke-WebRequest {
      $resp = [RenewdTestHttpResponse]::new()
      $resp.StatusCode = [System.Net.HttpStatusCode]::InternalServerError
      throw [System.Net.WebException]::new('The remote server returned an error: (500) Internal Server Error.', $null, 'ProtocolError', $resp)
    }
    $r = Caps
    $r.status | Should -Be 500
    $r.web_status | Should -BeExactly 'ProtocolError'
    $r.error | Should -BeLike '*(500)*'
    $script:RenewdOut | Should -Match '"caps":\[\]'
  }
  It 'reports no answer at all (status 0) with the WebException status, found through inner exceptions' {
    Mock Invoke-WebRequest {
      $we = [System.Net.WebException]::new('Unable to connect to the remote server', 'ConnectFailure')
      throw [System.InvalidOperationException]::new('wrapped', $we)
    }
    $r = Caps
    $r.status | Should -Be 0
    $r.web_status | Should -BeExactly 'ConnectFailure'
    $r.error | Should -BeExactly 'wrapped'
  }
  It 'refuses <u>' -ForEach @(
    @{ u = 'https://ndes01/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACert' }
    @{ u = 'file://ndes01/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps' }
    @{ u = 'https://user@ndes01/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps' }
    @{ u = "https://ndes01/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps`n" }
  ) {
    Mock Invoke-WebRequest { throw 'reached' }
    { Caps $u } | Should -Throw 'rd_fail: url * is not an NDES GetCACaps URL'
    Should -Invoke Invoke-WebRequest -Times 0 -Exactly
  }
}
