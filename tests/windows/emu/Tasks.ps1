# Tasks.ps1 — part of RenewdWindows.psm1 (dot-sourced): the Task Scheduler
# of the emulated machine, for the ScheduledTasks cmdlets adcs_task.ps1
# calls (https://learn.microsoft.com/powershell/module/scheduledtasks/):
# New-ScheduledTaskAction -Execute -Argument, New-ScheduledTaskPrincipal
# -UserId -LogonType -RunLevel, New-ScheduledTaskSettingsSet,
# Register-ScheduledTask -TaskName -TaskPath ... -Force (replaces a task of
# that name), Start-ScheduledTask (returns at once; the action runs in the
# background), Get-ScheduledTask (.State: Running while the action runs,
# else Ready), Get-ScheduledTaskInfo (.LastTaskResult: the action's exit
# code; 0x41301 SCHED_S_TASK_RUNNING while it runs, 0x41303
# SCHED_S_TASK_HAS_NOT_RUN before:
# https://learn.microsoft.com/windows/win32/taskschd/task-scheduler-error-and-success-constants),
# Stop-ScheduledTask, Unregister-ScheduledTask. A registered task is
# emu/tasks/<path+name, \ as !>.json: {execute, arguments, user}.
# Running as SYSTEM: the action runs as the lab account, with
# RENEWD_WIN_SYSTEM=1 in its environment, which is how the emulated
# certreq tells the machine account (that reaches the CA) from the SSH
# logon (that does not, the double hop). Only a task whose principal is
# SYSTEM gets it. The action's command line goes through renewd-pshost as
# a command line (--ssh-command: the C runtime's argument rules). Its
# output is discarded, as Task Scheduler does.
$script:RenewdTaskProcs = @{}

function New-ScheduledTaskAction([string]$Execute, [string]$Argument) {
  return [pscustomobject]@{ Execute = $Execute; Arguments = $Argument }
}

function New-ScheduledTaskPrincipal([string]$UserId, [string]$LogonType, [string]$RunLevel) {
  return [pscustomobject]@{ UserId = $UserId; LogonType = $LogonType; RunLevel = $RunLevel }
}

function New-ScheduledTaskSettingsSet([timespan]$ExecutionTimeLimit, [switch]$AllowStartIfOnBatteries, [switch]$DontStopIfGoingOnBatteries) {
  return [pscustomobject]@{ ExecutionTimeLimit = $ExecutionTimeLimit }
}

function Get-RenewdTaskFile([string]$TaskPath, [string]$TaskName) {
  if ($TaskName -notmatch '^[A-Za-z0-9 ._-]+\z' -or $TaskPath -notmatch '^\\([A-Za-z0-9 ._-]+\\)*\z') { throw "The task name or path is not valid: $TaskPath$TaskName" }
  $d = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'tasks')
  [void][System.IO.Directory]::CreateDirectory($d)
  return [System.IO.Path]::Combine($d, (($TaskPath + $TaskName) -replace '\\', '!') + '.json')
}

function Register-ScheduledTask {
  [CmdletBinding()]
  param([string]$TaskName, [string]$TaskPath = '\', $Action, $Principal, $Settings, [switch]$Force)
  $f = Get-RenewdTaskFile $TaskPath $TaskName
  if ([System.IO.File]::Exists($f) -and -not $Force) { throw "Cannot create a file when that file already exists. (task $TaskPath$TaskName)" }
  $t = [ordered]@{ execute = $Action.Execute; arguments = $Action.Arguments; user = $(if ($Principal) { $Principal.UserId } else { '' }) }
  [System.IO.File]::WriteAllText($f, (ConvertTo-Json -InputObject $t))
  return [pscustomobject]@{ TaskName = $TaskName; TaskPath = $TaskPath; State = 'Ready' }
}

function Get-RenewdTask([string]$TaskPath, [string]$TaskName) {
  $f = Get-RenewdTaskFile $TaskPath $TaskName
  if (-not [System.IO.File]::Exists($f)) { throw "No MSFT_ScheduledTask objects found with property 'TaskName' equal to '$TaskName'." }
  return [System.IO.File]::ReadAllText($f) | ConvertFrom-Json
}

function Start-ScheduledTask {
  [CmdletBinding()]
  param([string]$TaskName, [string]$TaskPath = '\')
  $t = Get-RenewdTask $TaskPath $TaskName
  $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
  foreach ($a in @('-c', 'exec "$0" --ssh-command "$1" </dev/null >/dev/null 2>&1', [System.Environment]::ProcessPath,
      ([string]$t.execute + ' ' + [string]$t.arguments))) { $psi.ArgumentList.Add($a) }
  $psi.UseShellExecute = $false
  $system = $false
  try { $system = (Invoke-RenewdEmuSid ([string]$t.user)).Value -eq 'S-1-5-18' } catch { $system = $false }
  $psi.Environment['RENEWD_WIN_SYSTEM'] = $(if ($system) { '1' } else { '' })
  $script:RenewdTaskProcs[$TaskPath + $TaskName] = [System.Diagnostics.Process]::Start($psi)
}

function Get-ScheduledTask {
  [CmdletBinding()]
  param([string]$TaskName, [string]$TaskPath = '\')
  [void](Get-RenewdTask $TaskPath $TaskName)
  $p = $script:RenewdTaskProcs[$TaskPath + $TaskName]
  return [pscustomobject]@{ TaskName = $TaskName; TaskPath = $TaskPath; State = $(if ($p -and -not $p.HasExited) { 'Running' } else { 'Ready' }) }
}

function Get-ScheduledTaskInfo {
  [CmdletBinding()]
  param([string]$TaskName, [string]$TaskPath = '\')
  [void](Get-RenewdTask $TaskPath $TaskName)
  $p = $script:RenewdTaskProcs[$TaskPath + $TaskName]
  $r = $(if (-not $p) { 0x41303 } elseif (-not $p.HasExited) { 0x41301 } else { $p.ExitCode })
  return [pscustomobject]@{ TaskName = $TaskName; TaskPath = $TaskPath; LastTaskResult = $r }
}

function Stop-ScheduledTask {
  [CmdletBinding()]
  param([string]$TaskName, [string]$TaskPath = '\')
  [void](Get-RenewdTask $TaskPath $TaskName)
  $p = $script:RenewdTaskProcs[$TaskPath + $TaskName]
  if ($p -and -not $p.HasExited) { $p.Kill($true); $p.WaitForExit() }
}

function Unregister-ScheduledTask {
  [CmdletBinding(SupportsShouldProcess)]
  param([string]$TaskName, [string]$TaskPath = '\')
  $f = Get-RenewdTaskFile $TaskPath $TaskName
  if (-not [System.IO.File]::Exists($f)) { throw "No MSFT_ScheduledTask objects found with property 'TaskName' equal to '$TaskName'." }
  [System.IO.File]::Delete($f)
  $script:RenewdTaskProcs.Remove($TaskPath + $TaskName)
}
