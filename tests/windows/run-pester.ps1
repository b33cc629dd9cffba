# run-pester.ps1 — runs the Pester suite (tests/windows/pester/*.Tests.ps1)
# inside renewd-pshost, with the Pester module that tests/windows/build.sh
# put next to the host. Prints one line per failed test and, last,
# "pester: N passed, M failed" (M counts failed and errored blocks too).
#   renewd-pshost -NoProfile -NonInteractive -File run-pester.ps1 BUILT_DIR [FILTER]
# BUILT_DIR: the scripts exactly as renewd sends them (BUILD/ps, written by
# `test_windows_plugin` case ps_texts). FILTER: a -like pattern of test names.
param([string]$Built, [string]$Filter = '')
$ErrorActionPreference = 'Stop'
if (-not $Built -or -not (Test-Path -LiteralPath $Built -PathType Container)) {
  [Console]::Error.WriteLine("run-pester: no built scripts directory '$Built'")
  exit 2
}
$env:RENEWD_PS_BUILT = (Resolve-Path -LiteralPath $Built).Path
Import-Module (Join-Path ([System.AppContext]::BaseDirectory) 'Pester/Pester.psd1')
$c = New-PesterConfiguration
$c.Run.Path = Join-Path $PSScriptRoot 'pester'
$c.Run.PassThru = $true
$c.Output.Verbosity = 'Normal'
if ($Filter) { $c.Filter.FullName = $Filter }
$r = Invoke-Pester -Configuration $c
$failed = $r.FailedCount + $r.FailedBlocksCount + $r.FailedContainersCount
"pester: $($r.PassedCount) passed, $failed failed"
if ($r.PassedCount -eq 0 -or $failed -gt 0) { exit 1 }
exit 0
