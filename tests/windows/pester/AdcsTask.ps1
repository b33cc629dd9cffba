# AdcsTask.ps1 — dot-sourced (after Renewd.ps1 and Boundary.ps1) by the
# tests that run adcs.* scripts: the work directory and the SYSTEM task.
# - Use-AdcsWork: rdw_workdir gives a fresh test folder ($script:Work) for
#   nonce 0123456789abcdef; Remove-Item deletes the files it is given.
# - Use-AdcsTask: the ScheduledTasks module as documented
#   (https://learn.microsoft.com/powershell/module/scheduledtasks/):
#   Start-ScheduledTask runs the task's script (task.ps1 in the work
#   directory) at once, as SYSTEM would; the task's State is Ready, its
#   LastTaskResult 0. certreq.exe records its arguments in
#   $script:AdcsCalls, writes $script:AdcsIssued (DER bytes) to its last
#   argument (the .cer file) and exits 0 with the lines of an issued
#   request. SYSTEM's name is what SecurityIdentifier('S-1-5-18')
#   .Translate(NTAccount) gives (Windows only, so mocked; other New-Object
#   calls are real).
function Use-AdcsWork {
  $script:Work = Join-Path $TestDrive ('adcs-' + [guid]::NewGuid().ToString('N'))
  $null = [System.IO.Directory]::CreateDirectory($script:Work)
  Mock rdw_workdir { $script:Work } -ParameterFilter { $Nonce -eq '0123456789abcdef' }
  Mock Remove-Item { foreach ($p in $LiteralPath) { if ([System.IO.File]::Exists($p)) { [System.IO.File]::Delete($p) } } }
}
function Use-AdcsTask([byte[]]$Issued) {
  $script:AdcsIssued = $Issued
  $script:AdcsCalls = [System.Collections.Generic.List[object]]::new()
  Mock Start-Sleep { }
  Mock New-ScheduledTaskAction { [pscustomobject]@{ Execute = $Execute; Arguments = $Argument } }
  Mock New-ScheduledTaskPrincipal { [pscustomobject]@{ UserId = $UserId; LogonType = $LogonType; RunLevel = $RunLevel } }
  Mock New-ScheduledTaskSettingsSet { [pscustomobject]@{ Limit = $ExecutionTimeLimit } }
  Mock New-Object { [System.Activator]::CreateInstance([type]$TypeName, [object[]]$ArgumentList) }
  Mock New-Object {
    $o = [pscustomobject]@{}
    $o | Add-Member ScriptMethod Translate { param($t) [pscustomobject]@{ Value = 'NT AUTHORITY\SYSTEM' } }
    $o
  } -ParameterFilter { $TypeName -eq 'System.Security.Principal.SecurityIdentifier' -and $ArgumentList[0] -eq 'S-1-5-18' }
  Mock Register-ScheduledTask { }
  Mock Start-ScheduledTask { & ([System.IO.Path]::Combine($script:Work, 'task.ps1')) }
  Mock Get-ScheduledTask { [pscustomobject]@{ State = 'Ready' } }
  Mock Get-ScheduledTaskInfo { [pscustomobject]@{ LastTaskResult = 0 } }
  Mock Stop-ScheduledTask { }
  Mock Unregister-ScheduledTask { }
  Mock certreq.exe {
    # unqualified: certreq.exe runs from task.ps1, whose $script: is its own
    $AdcsCalls.Add(@($args))
    [System.IO.File]::WriteAllBytes($args[-1], $AdcsIssued)
    $global:LASTEXITCODE = 0
    'RequestId: 42'
    'Certificate retrieved(Issued) Issued'
  }
}
