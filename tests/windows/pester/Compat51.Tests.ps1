# The Windows PowerShell 5.1 gate: no script renewd can send uses what 5.1
# lacks (Compat51.ps1 says what it knows). The scripts are the texts renewd
# sends ($env:RENEWD_PS_BUILT: every windows.* and adcs.* script with
# remote.c's prelude, and the adcs.issue task's inner script).
BeforeDiscovery {
  # one per WIN_SCRIPT in the plugin, the adcs.issue task's inner script
  # and the Windows batch and session loaders (renewd.batch, renewd.session,
  # test_remote_win)
  $src = Join-Path $PSScriptRoot '../../../plugins/windows'
  $want = 3 + @(Get-ChildItem -LiteralPath $src -Filter '*.c' | Select-String -Pattern 'WIN_SCRIPT\(' -AllMatches |
    ForEach-Object { $_.Matches } | Where-Object { $true }).Count
  $built = @(Get-ChildItem -LiteralPath $env:RENEWD_PS_BUILT -Filter '*.ps1' | ForEach-Object { @{ name = $_.BaseName; path = $_.FullName } })
}
BeforeAll {
  . (Join-Path $PSScriptRoot 'Compat51.ps1')
}

Describe 'every script renewd sends' {
  It 'is all there (<count> scripts: one per WIN_SCRIPT, the task inner script, the batch and session loaders)' -TestCases @(@{ count = $built.Count; want = $want; names = @($built | ForEach-Object { $_.name }) }) {
    $want | Should -BeGreaterOrEqual 19
    $count | Should -Be $want
    foreach ($n in 'adcs.task', 'adcs.task_inner', 'adcs.new', 'adcs.accept', 'windows.store.list', 'windows.registry.set',
      'windows.event.query', 'windows.key_acl.set', 'windows.prune.apply', 'windows.iis.set', 'windows.service.run', 'renewd.batch', 'renewd.session') {
      $names | Should -Contain $n
    }
  }
  It '<name> has nothing Windows PowerShell 5.1 lacks' -TestCases $built {
    $p = Get-Ps51Problem ([System.IO.File]::ReadAllText($path))
    $p -join "`n" | Should -BeNullOrEmpty -Because "$name.ps1 must run on Windows PowerShell 5.1"
  }
}

Describe 'the gate' {
  It 'rejects <code>' -TestCases @(
    @{ code = 'Get-Item x && Get-Item y'; want = '*pipeline chain*' }
    @{ code = 'a || b'; want = '*pipeline chain*' }
    @{ code = '$x = $a ? 1 : 2'; want = '*ternary*' }
    @{ code = '$x = $a ?? 2'; want = '*null-coalescing ??*' }
    @{ code = '$x ??= 2'; want = '*??=*' }
    @{ code = '${a}?.b'; want = '*null-conditional*' }
    @{ code = '${a}?.b()'; want = '*null-conditional*' }
    @{ code = '${a}?[0]'; want = '*null-conditional ?`[`]*' }
    @{ code = 'Start-Sleep 1 &'; want = '*background*' }
    @{ code = '$s -replace "a", { $_.Value }'; want = '*-replace with a script block*' }
    @{ code = '"`u{2019}"'; want = '*u{}*' }
    @{ code = '1..3 | ForEach-Object -Parallel { $_ }'; want = '*ForEach-Object -Parallel*' }
    @{ code = '$a | Join-String -Separator ","'; want = '*Join-String is not in 5.1*' }
    @{ code = '$t | ConvertFrom-Json -AsHashtable'; want = '*-AsHashtable*' }
    @{ code = '$t | ConvertFrom-Json -Depth 5'; want = '*ConvertFrom-Json -Depth*' }
    @{ code = 'ConvertTo-Json -AsArray $x'; want = '*-AsArray*' }
    @{ code = 'Get-Content f -AsByteStream'; want = '*-AsByteStream*' }
    @{ code = 'Get-Content f -AsByte'; want = '*-AsByteStream*' }
    @{ code = 'Set-Content f x -Encoding utf8NoBOM'; want = '*utf8NoBOM*' }
    @{ code = 'Out-File f -Encoding:utf8BOM'; want = '*utf8BOM*' }
    @{ code = 'Join-Path a b c'; want = '*more than one child*' }
    @{ code = 'Split-Path x -LeafBase'; want = '*-LeafBase*' }
    @{ code = 'Split-Path x -LeafB'; want = '*-LeafBase*' }
    @{ code = 'Invoke-WebRequest u -SkipCertificateCheck'; want = '*-SkipCertificateCheck*' }
    @{ code = 'if ($IsWindows) { }'; want = '*$IsWindows*' }
    @{ code = '[Convert]::ToHexString($b)'; want = '*ToHexString*' }
    @{ code = '[System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem($p)'; want = '*CreateFromPem*' }
    @{ code = '$c.ExportCertificatePem()'; want = '*ExportCertificatePem*' }
    @{ code = '[semver]"1.0.0"'; want = '*semver*' }
    @{ code = 'function f { clean { } }'; want = '*clean block*' }
    @{ code = 'Get-Uptime'; want = '*Get-Uptime is not in 5.1*' }
    @{ code = 'if ($x { }'; want = '*parse error*' }
  ) {
    $p = Get-Ps51Problem $code
    $p.Count | Should -BeGreaterOrEqual 1
    ($p -join "`n") | Should -BeLike $want
  }
  It 'lets 5.1 code through: <code>' -TestCases @(
    @{ code = 'if ($a -and $b) { $c = $a; if (-not $c) { $c = 2 } }' }
    @{ code = '$s -replace "a", "b"; $s -split ","' }
    @{ code = '1..3 | ForEach-Object { $_ } | Sort-Object -Unique' }
    @{ code = '$t | ConvertFrom-Json; ConvertTo-Json -InputObject $x -Compress -Depth 6' }
    @{ code = 'Get-Content f -Encoding Byte -ReadCount 0; Set-Content f x -Encoding UTF8' }
    @{ code = 'Join-Path $env:windir "System32\iisreset.exe"; Split-Path -Leaf $p' }
    @{ code = '$a = [ordered]@{ x = 1 }; $o = [pscustomobject]$a; [Convert]::ToBase64String($b)' }
    @{ code = '$x = "a && b ?? c"; # a || b' }
    @{ code = 'Get-ChildItem Cert:\LocalMachine\My | Where-Object { $_.HasPrivateKey }; Remove-Item x -DeleteKey' }
    @{ code = '& certreq.exe @args 2>&1; $LASTEXITCODE; "`r`n"' }
    @{ code = 'Get-Random -Count 3 -InputObject $a; Split-Path -Leaf $p' }
  ) {
    (Get-Ps51Problem $code) -join "`n" | Should -BeNullOrEmpty
  }
}
