# The Windows batch and session loaders (orchestrator/transport/remote_win.c),
# run for real: their texts exactly as renewd sends them
# (BUILT/renewd.batch.ps1 and renewd.session.ps1, from test_remote_win case
# ps_texts), in a powershell.exe of its own (this host, -EncodedCommand,
# the batch's JSON on stdin, as over SSH). Each script must end alone — a
# throw, rd_fail or exit — with the exit status and stderr it has alone,
# and leave nothing to the next one; a session's requests, one after the
# other in one process, likewise.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')

  # One powershell.exe started: TEXT as -EncodedCommand, its streams redirected.
  function Start-RenewdHost([string]$Text) {
    $si = New-Object System.Diagnostics.ProcessStartInfo
    $si.FileName = [Environment]::ProcessPath
    foreach ($a in @('-NoProfile', '-NonInteractive', '-EncodedCommand',
        [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($Text)))) { $si.ArgumentList.Add($a) }
    $si.RedirectStandardInput = $true
    $si.RedirectStandardOutput = $true
    $si.RedirectStandardError = $true
    $si.UseShellExecute = $false
    return [System.Diagnostics.Process]::Start($si)
  }

  # One powershell.exe: TEXT as -EncodedCommand, STDIN on its stdin.
  function Invoke-RenewdHost([string]$Text, [string]$Stdin) {
    $p = Start-RenewdHost $Text
    $p.StandardInput.Write($Stdin)
    $p.StandardInput.Close()
    $eread = $p.StandardError.ReadToEndAsync()
    $out = $p.StandardOutput.ReadToEnd()
    $p.WaitForExit()
    return [pscustomobject]@{ exit = $p.ExitCode; out = $out; err = $eread.Result }
  }

  # The lines before a script's first line in its text alone.
  $built = Get-RenewdBuilt 'windows.registry.read'
  $script:Pad = ($built.Substring(0, $built.IndexOf($script:RenewdMarkHead) + $script:RenewdMarkHead.Length) -split "`n").Count - 1
  $script:Loader = [System.IO.File]::ReadAllText([System.IO.Path]::Combine($env:RENEWD_PS_BUILT, 'renewd.batch.ps1'))
  $script:Session = [System.IO.File]::ReadAllText([System.IO.Path]::Combine($env:RENEWD_PS_BUILT, 'renewd.session.ps1'))

  # CALLS: @{ text; params } each, as the stdin line of one batch (the
  # document remote_win.c writes).
  function ConvertTo-RenewdBatchLine([object[]]$Calls) {
    $texts = @(); $r = @()
    foreach ($c in $Calls) {
      $texts += ("`n" * $script:Pad) + $c.text
      $p = if ($c.ContainsKey('params')) { $c.params } else { @{} }
      $r += [ordered]@{ t = $texts.Count - 1; p = (ConvertTo-Json -InputObject $p -Compress -Depth 6) }
    }
    $doc = ConvertTo-Json -InputObject ([ordered]@{ t = $texts; r = $r }) -Compress -Depth 6
    return [Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($doc)) + "`n"
  }

  # A batch's answer lines (OUT) for COUNT scripts: one {exit, out, err}
  # per script (any other line fails the test).
  function Read-RenewdAnswers([string]$Out, [int]$Count) {
    $lines = @($Out -split "`n" | Where-Object { $_ -ne '' })
    $lines.Count | Should -Be $Count -Because $Out
    $u = New-Object System.Text.UTF8Encoding $false
    $i = 0
    foreach ($l in $lines) {
      $l | Should -Match '^rd_batch [0-9]+ [0-9]+ [A-Za-z0-9+/=]* [A-Za-z0-9+/=]*$'
      $f = $l -split ' '
      [int]$f[1] | Should -Be $i
      [pscustomobject]@{ exit = [int]$f[2]; out = $u.GetString([Convert]::FromBase64String($f[3])); err = $u.GetString([Convert]::FromBase64String($f[4])) }
      $i++
    }
  }

  # CALLS run as one batch: one {exit, out, err} per script.
  function Invoke-RenewdBatch([object[]]$Calls) {
    $h = Invoke-RenewdHost $script:Loader (ConvertTo-RenewdBatchLine $Calls)
    $h.exit | Should -Be 0 -Because $h.err
    Read-RenewdAnswers $h.out $Calls.Count
  }

  # REQUESTS (CALLS each) sent to one session as renewd does: each is
  # written only once the one before was answered (its "rd_end TOKEN" line
  # read, stdin still open), then stdin is closed. Returns the answers of
  # each request, the exit status, what came after the last rd_end, stderr.
  function Invoke-RenewdSession([object[]]$Requests) {
    $p = Start-RenewdHost $script:Session
    $eread = $p.StandardError.ReadToEndAsync()
    $all = New-Object System.Collections.Generic.List[object]
    $tok = 40
    foreach ($calls in $Requests) {
      $tok++
      $p.StandardInput.Write((ConvertTo-RenewdBatchLine $calls) + "E $tok`n")
      $p.StandardInput.Flush()
      $text = ''
      while ($true) {
        $t = $p.StandardOutput.ReadLineAsync()
        if (-not $t.Wait(60000)) { $p.Kill(); throw "request $tok`: no answer in 60 s (stdin still open): $text" }
        if ($null -eq $t.Result) { throw "the session ended before request $tok was answered: $text" }
        if ($t.Result -eq "rd_end $tok") { break }
        $text += $t.Result + "`n"
      }
      $all.Add(@(Read-RenewdAnswers $text $calls.Count))
    }
    $p.StandardInput.Close()
    $rest = $p.StandardOutput.ReadToEnd()
    $p.WaitForExit()
    return [pscustomobject]@{ answers = $all; exit = $p.ExitCode; rest = $rest; err = $eread.Result }
  }

  # Script NAME alone, as renewd sends it: {exit, out, err}.
  function Invoke-RenewdAlone([string]$Name, [hashtable]$Params) {
    $json = ConvertTo-Json -InputObject $Params -Compress -Depth 6
    return Invoke-RenewdHost (Get-RenewdBuilt $Name) ([Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($json)) + "`n")
  }
}

Describe 'the Windows batch loader' {
  It 'gives each script its own answer; a failing script in the middle fails alone' {
    $hostile = "'; Remove-Item C:\ -Recurse; `$(calc) `"x`" ``n"
    $a = Invoke-RenewdBatch @(
      @{ text = 'rd_out @{ a = $P.a }'; params = @{ a = $hostile } },
      @{ text = "[Console]::Out.Write('partial')`nrd_fail 'b failed'`nrd_out 'never'" },
      @{ text = "rd_out 'c'" })
    $a[0].exit | Should -Be 0
    ($a[0].out | ConvertFrom-Json).a | Should -BeExactly $hostile
    $a[0].err | Should -BeExactly ''
    $a[1].exit | Should -Be 3
    $a[1].out | Should -BeExactly 'partial'
    $a[1].err.TrimEnd() | Should -BeExactly 'b failed'
    $a[2].exit | Should -Be 0
    $a[2].out | Should -BeExactly '"c"'
  }
  It 'reports a throw as the script alone does (renewd: MESSAGE (line N)), then runs the next' {
    $a = Invoke-RenewdBatch @(@{ text = "`$x = 1`nthrow 'boom'" }, @{ text = 'rd_out 1' })
    $a[0].exit | Should -Be 3
    $a[0].err.TrimEnd() | Should -BeExactly "renewd: boom (line $($script:Pad + 2))"
    $a[1].exit | Should -Be 0
    $a[1].out | Should -BeExactly '1'
  }
  It 'ends a script at its exit N only; rd_fail cannot be caught by the script, as alone' {
    $a = Invoke-RenewdBatch @(
      @{ text = "rd_out 'a'`nexit 5`nrd_out 'never'" },
      @{ text = "try { rd_fail 'inner' } catch { rd_out 'caught' }`nrd_out 'after'" },
      @{ text = "rd_out 'c'" })
    $a[0].exit | Should -Be 5
    $a[0].out | Should -BeExactly '"a"'
    $a[1].exit | Should -Be 3
    $a[1].out | Should -BeExactly ''
    $a[1].err.TrimEnd() | Should -BeExactly 'inner'
    $a[2].exit | Should -Be 0
  }
  It 'leaves nothing of a script to the next: variables, functions, preferences, $LASTEXITCODE, $Error' {
    $a = Invoke-RenewdBatch @(
      @{ text = "`$x = 1`n`$ErrorActionPreference = 'Continue'`nfunction f { 1 }`ntry { throw 'e' } catch { }`nexit 0" },
      @{ text = 'rd_out @{ x = [bool](Get-Variable x -ErrorAction Ignore); f = [bool](Get-Command f -ErrorAction Ignore); eap = [string]$ErrorActionPreference; lec = (Test-Path variable:global:LASTEXITCODE); errors = $Error.Count }' })
    $a[0].exit | Should -Be 0
    $b = $a[1].out | ConvertFrom-Json
    $b.x | Should -BeFalse
    $b.f | Should -BeFalse
    $b.eap | Should -BeExactly 'Stop'
    $b.lec | Should -BeFalse
    $b.errors | Should -Be 0
  }
  It 'keeps each script''s stderr and stray output (warnings, Write-Host, the pipeline) to that script' {
    $a = Invoke-RenewdBatch @(
      @{ text = "[Console]::Error.WriteLine('ea')`nWrite-Warning 'w1'`nWrite-Host 'h1'`n'p1'" },
      @{ text = "[Console]::Error.WriteLine('eb')`nrd_out 2" })
    $a[0].err.TrimEnd() | Should -BeExactly 'ea'
    $a[0].out | Should -Match 'w1'
    $a[0].out | Should -Match 'h1'
    $a[0].out | Should -Match 'p1'
    $a[1].err.TrimEnd() | Should -BeExactly 'eb'
    $a[1].out | Should -BeExactly '2'
  }
  It 'runs a shipped script exactly as alone: <name> (<why>)' -ForEach @(
    @{ name = 'windows.store.list'; why = 'rd_fail'; params = @{ store = 'CurrentUser\My' } },
    @{ name = 'windows.registry.read'; why = 'a strict-mode error, its line'; params = @{ value = 'v' } },
    @{ name = 'windows.registry.read'; why = 'rd_fail'; params = @{ key = 'HKLM:\SOFTWARE\x' } }
  ) {
    $alone = Invoke-RenewdAlone $name $params
    $a = Invoke-RenewdBatch @(@{ text = "rd_out 0" }, @{ text = (Get-RenewdBody $name); params = $params }, @{ text = "rd_out 1" })
    $alone.exit | Should -Be 3
    $a[1].exit | Should -Be $alone.exit
    $a[1].out | Should -BeExactly $alone.out
    $a[1].err | Should -BeExactly $alone.err
    $a[0].out | Should -BeExactly '0'
    $a[2].out | Should -BeExactly '1'
  }
}

Describe 'the Windows session loader' {
  It 'answers two requests in one process, each before the next is sent; the second sees nothing the first defined' {
    $probe = 'rd_out @{ pid = $PID; x = [bool](Get-Variable x -ErrorAction Ignore); f = [bool](Get-Command f -ErrorAction Ignore); eap = [string]$ErrorActionPreference; lec = (Test-Path variable:global:LASTEXITCODE); errors = $Error.Count }'
    $s = Invoke-RenewdSession @(
      @(@{ text = "`$x = 1`n`$ErrorActionPreference = 'Continue'`nfunction f { 1 }`ntry { throw 'e' } catch { }`nrd_out `$PID`nexit 4" }),
      @(@{ text = $probe }, @{ text = 'rd_out @{ a = $P.a }'; params = @{ a = 'two' } }))
    $s.exit | Should -Be 0 -Because $s.err
    $s.rest | Should -BeExactly ''
    $s.answers[0][0].exit | Should -Be 4
    $b = $s.answers[1][0].out | ConvertFrom-Json
    $b.pid | Should -Be ([int]$s.answers[0][0].out)
    $b.x | Should -BeFalse
    $b.f | Should -BeFalse
    $b.eap | Should -BeExactly 'Stop'
    $b.lec | Should -BeFalse
    $b.errors | Should -Be 0
    ($s.answers[1][1].out | ConvertFrom-Json).a | Should -BeExactly 'two'
  }
  It 'goes on after a throw, rd_fail and exit in request 1, each answered as alone' {
    $s = Invoke-RenewdSession @(
      @(@{ text = "`$x = 1`nthrow 'boom'" }, @{ text = "rd_fail 'no'" }, @{ text = 'exit 7' }),
      @(@{ text = "rd_out 'alive'" }))
    $s.exit | Should -Be 0 -Because $s.err
    $s.answers[0][0].exit | Should -Be 3
    $s.answers[0][0].err.TrimEnd() | Should -BeExactly "renewd: boom (line $($script:Pad + 2))"
    $s.answers[0][1].exit | Should -Be 3
    $s.answers[0][1].err.TrimEnd() | Should -BeExactly 'no'
    $s.answers[0][2].exit | Should -Be 7
    $s.answers[1][0].exit | Should -Be 0
    $s.answers[1][0].out | Should -BeExactly '"alive"'
  }
  It 'ends at EOF without a word, and at a request without its E line with an error' {
    $h = Invoke-RenewdHost $script:Session ''
    $h.exit | Should -Be 0 -Because $h.err
    $h.out | Should -BeExactly ''
    $h = Invoke-RenewdHost $script:Session ((ConvertTo-RenewdBatchLine @(@{ text = "rd_out 1" })) + "X 1`n")
    $h.exit | Should -Be 3
    $h.out | Should -BeExactly ''
    $h.err.TrimEnd() | Should -BeExactly 'renewd: bad session line on stdin'
  }
}
