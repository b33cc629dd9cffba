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

Export-ModuleMember -Function ConvertFrom-RenewdWindowsPath
