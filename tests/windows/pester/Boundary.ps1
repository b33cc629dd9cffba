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
