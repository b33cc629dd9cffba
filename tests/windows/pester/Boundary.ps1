# Boundary.ps1 — dot-sourced by the tests that reach Windows-only commands:
# their declarations, so that Pester can mock them off Windows (Mock needs
# the command to exist). Each keeps the parameters Microsoft documents for
# it (those renewd's scripts use and their neighbours), so a script calling
# a parameter Windows lacks fails to bind here too; the body runs only when
# a test forgot to mock the command, and fails it.

# Set-ItemProperty on the registry provider: -Type is the provider's
# dynamic parameter (RegistryValueKind names), absent off Windows.
# https://learn.microsoft.com/powershell/module/microsoft.powershell.management/set-itemproperty?view=powershell-5.1
function Set-ItemProperty {
  [CmdletBinding()]
  param([string[]]$Path, [string[]]$LiteralPath, [Parameter(Position = 1)][string]$Name,
        [Parameter(Position = 2)][object]$Value, [Microsoft.Win32.RegistryValueKind]$Type, [switch]$PassThru, [switch]$Force)
  throw 'Set-ItemProperty: not mocked in this test'
}

# https://learn.microsoft.com/powershell/module/microsoft.powershell.management/get-service?view=powershell-5.1
function Get-Service {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Name, [string[]]$DisplayName, [string[]]$Include, [string[]]$Exclude,
        [switch]$DependentServices, [switch]$RequiredServices, [string[]]$ComputerName, [object[]]$InputObject)
  throw 'Get-Service: not mocked in this test'
}

# https://learn.microsoft.com/powershell/module/microsoft.powershell.management/restart-service?view=powershell-5.1
function Restart-Service {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Name, [string[]]$DisplayName, [object[]]$InputObject,
        [switch]$Force, [switch]$PassThru, [string[]]$Include, [string[]]$Exclude)
  throw 'Restart-Service: not mocked in this test'
}

# WebAdministration (IIS):
# https://learn.microsoft.com/powershell/module/webadministration/get-website
# https://learn.microsoft.com/powershell/module/webadministration/get-webbinding
function Get-Website {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$Name)
  throw 'Get-Website: not mocked in this test'
}
function Get-WebBinding {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$Name, [string]$Protocol, [int]$Port, [string]$IPAddress, [string]$HostHeader)
  throw 'Get-WebBinding: not mocked in this test'
}

# Remove-Item with the Certificate provider's dynamic -DeleteKey (removes
# the private key with the certificate), absent off Windows.
# https://learn.microsoft.com/powershell/module/microsoft.powershell.security/about/about_certificate_provider
function Remove-Item {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Path, [string[]]$LiteralPath, [switch]$Recurse, [switch]$Force,
        [switch]$DeleteKey)
  throw 'Remove-Item: not mocked in this test'
}

# Get-WinEvent (Windows only; the emulation module has its own for the lab):
# https://learn.microsoft.com/powershell/module/microsoft.powershell.diagnostics/get-winevent?view=powershell-5.1
function Get-WinEvent {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$ListLog, [string[]]$LogName, [hashtable[]]$FilterHashtable,
        [long]$MaxEvents, [switch]$Oldest, [switch]$Force)
  throw 'Get-WinEvent: not mocked in this test'
}

# The ScheduledTasks module (Windows only):
# https://learn.microsoft.com/powershell/module/scheduledtasks/
function New-ScheduledTaskAction {
  [CmdletBinding()]
  param([Parameter(Mandatory)][string]$Execute, [string]$Argument, [string]$WorkingDirectory, [string]$Id)
  throw 'New-ScheduledTaskAction: not mocked in this test'
}
function New-ScheduledTaskPrincipal {
  [CmdletBinding()]
  param([string]$UserId, [string]$GroupId, [string]$Id, [ValidateSet('None', 'Password', 'S4U', 'Interactive', 'Group', 'ServiceAccount', 'InteractiveOrPassword')][string]$LogonType,
        [ValidateSet('Limited', 'Highest')][string]$RunLevel, [string]$ProcessTokenSidType, [string[]]$RequiredPrivilege)
  throw 'New-ScheduledTaskPrincipal: not mocked in this test'
}
function New-ScheduledTaskSettingsSet {
  [CmdletBinding()]
  param([timespan]$ExecutionTimeLimit, [switch]$AllowStartIfOnBatteries, [switch]$DontStopIfGoingOnBatteries,
        [switch]$Hidden, [switch]$StartWhenAvailable, [switch]$RunOnlyIfNetworkAvailable, [int]$RestartCount,
        [timespan]$RestartInterval, [string]$MultipleInstances, [int]$Priority)
  throw 'New-ScheduledTaskSettingsSet: not mocked in this test'
}
function Register-ScheduledTask {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$TaskName, [Parameter(Position = 1)][string]$TaskPath, [object[]]$Action,
        [object]$Principal, [object]$Settings, [object[]]$Trigger, [string]$Description, [string]$User,
        [string]$Password, [switch]$Force)
  throw 'Register-ScheduledTask: not mocked in this test'
}
function Start-ScheduledTask {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$TaskName, [Parameter(Position = 1)][string]$TaskPath, [object]$InputObject)
  throw 'Start-ScheduledTask: not mocked in this test'
}
function Stop-ScheduledTask {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$TaskName, [Parameter(Position = 1)][string]$TaskPath, [object]$InputObject)
  throw 'Stop-ScheduledTask: not mocked in this test'
}
function Get-ScheduledTask {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$TaskName, [string[]]$TaskPath)
  throw 'Get-ScheduledTask: not mocked in this test'
}
function Get-ScheduledTaskInfo {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$TaskName, [Parameter(Position = 1)][string]$TaskPath, [object]$InputObject)
  throw 'Get-ScheduledTaskInfo: not mocked in this test'
}
function Unregister-ScheduledTask {
  [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
  param([Parameter(Position = 0)][string[]]$TaskName, [string[]]$TaskPath, [object[]]$InputObject)
  throw 'Unregister-ScheduledTask: not mocked in this test'
}

# certreq.exe and certutil.exe, as the scripts call them (by name, found on
# %PATH% in System32): a function of that name comes first, so Pester can
# mock them; a mock sets $global:LASTEXITCODE as the program's exit would.
# https://learn.microsoft.com/windows-server/administration/windows-commands/certreq_1
# https://learn.microsoft.com/windows-server/administration/windows-commands/certutil
function certreq.exe { throw 'certreq.exe: not mocked in this test' }
function certutil.exe { throw 'certutil.exe: not mocked in this test' }
