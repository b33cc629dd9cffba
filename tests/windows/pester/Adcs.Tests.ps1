# adcs_lib.ps1, adcs_new.ps1, adcs_probe.ps1, adcs_accept.ps1,
# adcs_cleanup.ps1, adcs_task.ps1 and task_inner.ps1 (adcs.issue), as renewd
# builds adcs.new / .probe / .accept / .cleanup / .task with the parameters
# adcs.c packs; each output is checked for the shape adcs.c reads.
# The Windows boundary, mocked as Microsoft documents it:
# - certreq.exe / certutil.exe (rdw_native in the SSH session; called by
#   name in the SYSTEM task):
#   https://learn.microsoft.com/windows-server/administration/windows-commands/certreq_1
# - Cert:\LocalMachine\<store> (Get-ChildItem gives X509Certificate2s; the
#   REQUEST store holds the pending key pairs; Remove-Item -DeleteKey):
#   https://learn.microsoft.com/powershell/module/microsoft.powershell.security/about/about_certificate_provider
# - the ScheduledTasks module: a task registered, started, polled
#   (Get-ScheduledTask .State, Get-ScheduledTaskInfo .LastTaskResult),
#   stopped and unregistered; Start-ScheduledTask here runs the task's
#   script (task.ps1 in the work directory) at once, as SYSTEM would:
#   https://learn.microsoft.com/powershell/module/scheduledtasks/
# - SecurityIdentifier / NTAccount and the directory ACL (Windows only:
#   PlatformNotSupportedException elsewhere): New-Object mocked.
# The work directory is a test folder (rdw_workdir mocked), except in the
# test of rdw_workdir itself.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Join-Path $PSScriptRoot 'AdcsTask.ps1')
  . (Get-RenewdFunctions 'adcs.accept')
  $nonce = '0123456789abcdef'
  $basis = New-RenewdCert 'CN=ndes-ra'
  $issued = New-RenewdCert 'CN=ndes-ra'
  $basisNoKey = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([byte[]]$basis.RawData)
  $caConfig = 'ca01.corp.example\Corp Issuing CA'
  # a store whose contents change after N calls: @(before), @(after)
  function Use-Store([string]$Store, [object[]]$Before, [object[]]$After = $Before, [int]$Switch = 1) {
    $StoreState[$Store] = @{ n = 0; before = $Before; after = $After; switch = $Switch }
    Mock Get-ChildItem {
      $s = $StoreState[[string]$Path]
      $s.n++
      if ($s.n -le $s.switch) { $s.before } else { $s.after }
    } -ParameterFilter { $StoreState.ContainsKey([string]$Path) }
  }
  $StoreState = @{}
}

Describe 'adcs.new' {
  BeforeEach { $StoreState.Clear(); Use-AdcsWork }
  It 'writes the five-line RenewalCert INF and runs certreq -new -q -f; reports the new REQUEST entry (an array of one)' {
    $tInf = Join-Path $script:Work 'renewal.inf'
    $tReq = Join-Path $script:Work 'renewal.req'
    $pending = New-RenewdCert 'CN=pending'
    $other = New-RenewdCert 'CN=other'
    Use-Store 'Cert:\LocalMachine\My' @($issued, $basis)
    Use-Store 'Cert:\LocalMachine\REQUEST' @($other) @($other, $pending)
    Mock rdw_native { [System.IO.File]::WriteAllText($tReq, 'REQ'); [ordered]@{ exit = 0; text = 'CertReq: Request Created' } } -ParameterFilter {
      $Exe -eq 'certreq.exe' -and ($ArgList -join '|') -eq "-new|-q|-f|$tInf|$tReq"
    }
    $r = Invoke-RenewdScript 'adcs.new' @{ nonce = $nonce; store = 'LocalMachine\My'; thumbprint = $basis.Thumbprint.ToLower() }
    $r.exit | Should -Be 0
    $r.text | Should -BeExactly 'CertReq: Request Created'
    $r.req | Should -BeTrue
    $script:RenewdOut | Should -Match ('"request_thumbprints":\["' + $pending.Thumbprint + '"\]')
    ([System.IO.File]::ReadAllText($tInf) -split "`r?`n") | Should -Be @('[Version]', 'Signature="$Windows NT$"', '[NewRequest]',
      ('RenewalCert="' + $basis.Thumbprint + '"'), 'MachineKeySet=TRUE', '')
    Should -Invoke rdw_native -Times 1 -Exactly
  }
  It 'reports a failed certreq, no request file and no new entry (an empty array)' {
    Use-Store 'Cert:\LocalMachine\My' @($basis)
    Use-Store 'Cert:\LocalMachine\REQUEST' @()
    Mock rdw_native { [ordered]@{ exit = -2146893802; text = 'CertReq: Keyset does not exist 0x80090016' } }
    $r = Invoke-RenewdScript 'adcs.new' @{ nonce = $nonce; store = 'LocalMachine\My'; thumbprint = $basis.Thumbprint }
    $r.exit | Should -Be -2146893802
    $r.req | Should -BeFalse
    $script:RenewdOut | Should -Match '"request_thumbprints":\[\]'
  }
  It 'refuses <why> before certreq runs' -ForEach @(
    @{ why = 'a basis not in the store'; nokey = $false; msg = 'rd_fail: certificate * is not in LocalMachine\My' }
    @{ why = 'a basis without its key'; nokey = $true; msg = 'rd_fail: certificate * has no private key: certreq cannot sign a RenewalCert request with it' }
  ) {
    Use-Store 'Cert:\LocalMachine\My' @(if ($nokey) { $basisNoKey })
    Mock rdw_native { throw 'reached' }
    { Invoke-RenewdScript 'adcs.new' @{ nonce = $nonce; store = 'LocalMachine\My'; thumbprint = $basis.Thumbprint } } | Should -Throw $msg
    Should -Invoke rdw_native -Times 0 -Exactly
  }
}

Describe 'adcs.probe' {
  BeforeEach {
    $StoreState.Clear()
    Mock Get-Command { [pscustomobject]@{ Name = 'certreq.exe' } } -ParameterFilter { $Name -eq 'certreq.exe' -and $CommandType -eq 'Application' }
    Mock Get-Service { [pscustomobject]@{ Status = 'Running' } } -ParameterFilter { $Name -eq 'Schedule' }
    Use-Store 'Cert:\LocalMachine\My' @($basis)
  }
  It 'reports certreq, the scheduler, the basis with its key and its chain (an array, empty for a self-signed one); no discovery' {
    Mock rdw_native { throw 'reached' }
    $r = Invoke-RenewdScript 'adcs.probe' @{ store = 'LocalMachine\My'; thumbprint = $basis.Thumbprint; discover = $false }
    $r.certreq | Should -BeTrue
    $r.scheduler | Should -BeExactly 'Running'
    $r.found | Should -BeTrue
    $r.has_key | Should -BeTrue
    $r.dump | Should -BeNullOrEmpty
    $script:RenewdOut | Should -Match '"chain":\[\]'
  }
  It 'reports a missing certreq, scheduler and basis' {
    Mock Get-Command { } -ParameterFilter { $Name -eq 'certreq.exe' }
    Mock Get-Service { } -ParameterFilter { $Name -eq 'Schedule' }
    Use-Store 'Cert:\LocalMachine\My' @()
    $r = Invoke-RenewdScript 'adcs.probe' @{ store = 'LocalMachine\My'; thumbprint = $basis.Thumbprint; discover = $false }
    $r.certreq | Should -BeFalse
    $r.scheduler | Should -BeNullOrEmpty
    $r.found | Should -BeFalse
  }
  It 'discovers: MSCEP\CAInfo and certutil -dump' {
    Mock Get-ItemProperty { [pscustomobject]@{ Configuration = $caConfig } } -ParameterFilter {
      $LiteralPath -eq 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP\CAInfo' -and $Name -eq 'Configuration'
    }
    Mock rdw_native { [ordered]@{ exit = 0; text = "Entry 0:`r`n  Config: `"$caConfig`"" } } -ParameterFilter { $Exe -eq 'certutil.exe' -and ($ArgList -join '|') -eq '-dump' }
    $r = Invoke-RenewdScript 'adcs.probe' @{ store = 'LocalMachine\My'; thumbprint = ''; discover = $true }
    $r.found | Should -BeFalse
    $r.cainfo | Should -BeExactly $caConfig
    $r.dump | Should -BeLike "*Config: `"$caConfig`""
    $r.dump_exit | Should -Be 0
  }
}

Describe 'adcs.accept' {
  BeforeEach {
    $StoreState.Clear()
    Use-AdcsWork
    $script:Cer = Join-Path $script:Work 'renewal.cer'
    [System.IO.File]::WriteAllBytes($script:Cer, $issued.RawData)
    Mock rdw_keyinfo { [ordered]@{ prov_type = 0; prov_name = 'Microsoft Software Key Storage Provider'; files = @('Keys') } }
  }
  It 'accepts the issued certificate, reports it with its key, and removes the work directory' {
    Use-Store 'Cert:\LocalMachine\My' @($basis) @($basis, $issued)
    Mock rdw_native { [ordered]@{ exit = 0; text = 'Installed Certificate:' } } -ParameterFilter {
      $Exe -eq 'certreq.exe' -and ($ArgList -join '|') -eq "-accept|-machine|-q|$($script:Cer)"
    }
    $r = Invoke-RenewdScript 'adcs.accept' @{ nonce = $nonce; store = 'LocalMachine\My' }
    $r.thumbprint | Should -BeExactly $issued.Thumbprint
    $r.accepted | Should -BeTrue
    $r.exit | Should -Be 0
    $r.found | Should -BeTrue
    $r.cert.thumbprint | Should -BeExactly $issued.Thumbprint
    $r.cert.has_key | Should -BeTrue
    $r.cert.key.prov_name | Should -BeExactly 'Microsoft Software Key Storage Provider'
    $script:RenewdOut | Should -Match '"chain":\[\]'
    Should -Invoke Remove-Item -Times 1 -Exactly -ParameterFilter { $LiteralPath -eq $script:Work -and $Recurse -and $Force }
  }
  It 'does not accept again what is already in the store with its key (a re-run)' {
    Use-Store 'Cert:\LocalMachine\My' @($basis, $issued)
    Mock rdw_native { throw 'reached' }
    $r = Invoke-RenewdScript 'adcs.accept' @{ nonce = $nonce; store = 'LocalMachine\My' }
    $r.accepted | Should -BeFalse
    $r.found | Should -BeTrue
    $r.exit | Should -BeNullOrEmpty
  }
  It 'keeps the work directory when the certificate did not arrive, or without its key' {
    Use-Store 'Cert:\LocalMachine\My' @($basis)
    Mock rdw_native { [ordered]@{ exit = 5; text = 'Cannot find the certificate and private key for decryption.' } }
    $r = Invoke-RenewdScript 'adcs.accept' @{ nonce = $nonce; store = 'LocalMachine\My' }
    $r.found | Should -BeFalse
    $r.cert | Should -BeNullOrEmpty
    $r.exit | Should -Be 5
    $r.text | Should -BeLike 'Cannot find*'
    $nokey2 = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([byte[]]$issued.RawData)
    Use-Store 'Cert:\LocalMachine\My' @($nokey2)
    $r = Invoke-RenewdScript 'adcs.accept' @{ nonce = $nonce; store = 'LocalMachine\My' }
    $r.found | Should -BeTrue
    $r.cert.has_key | Should -BeFalse
    Should -Invoke Remove-Item -Times 0 -Exactly -ParameterFilter { $Recurse }
  }
  It 'fails when the issued certificate file is missing' {
    [System.IO.File]::Delete($script:Cer)
    { Invoke-RenewdScript 'adcs.accept' @{ nonce = $nonce; store = 'LocalMachine\My' } } | Should -Throw 'rd_fail: the issued certificate * is missing'
  }
}

Describe 'adcs.cleanup' {
  BeforeEach {
    $env:ProgramData = 'C:\ProgramData'
    Mock Join-Path { ($Path.TrimEnd('\') + '\' + $ChildPath) }
    Mock Remove-Item { }
  }
  It 'removes the request entries still there, with their keys, and the work directory' {
    $a = 'AB' * 20; $b = 'CD' * 20
    Mock Test-Path { $true } -ParameterFilter { $LiteralPath -eq "Cert:\LocalMachine\REQUEST\$a" -or $LiteralPath -eq "C:\ProgramData\renewd\adcs-$nonce" }
    Mock Test-Path { $false }
    $r = Invoke-RenewdScript 'adcs.cleanup' @{ nonce = $nonce; request_thumbprints = @($a.ToLower(), $b, '') }
    $script:RenewdOut | Should -BeExactly ('{"removed":["' + $a + '"],"dir_removed":true}')
    Should -Invoke Remove-Item -Times 1 -Exactly -ParameterFilter { $LiteralPath -eq "Cert:\LocalMachine\REQUEST\$a" -and $DeleteKey }
    Should -Invoke Remove-Item -Times 1 -Exactly -ParameterFilter { $LiteralPath -eq "C:\ProgramData\renewd\adcs-$nonce" -and $Recurse -and $Force }
    Should -Invoke Remove-Item -Times 2 -Exactly
  }
  It 'with nothing to do, reports an empty array' {
    Mock Test-Path { $false }
    $null = Invoke-RenewdScript 'adcs.cleanup' @{ nonce = $nonce; request_thumbprints = @() }
    $script:RenewdOut | Should -BeExactly '{"removed":[],"dir_removed":false}'
  }
  It 'refuses a request thumbprint that is not one' {
    Mock Test-Path { throw 'reached' }
    { Invoke-RenewdScript 'adcs.cleanup' @{ nonce = $nonce; request_thumbprints = @("AB'; Remove-Item C:\ -Recurse; '") } } |
      Should -Throw 'rd_fail: request * is not a 40-digit hex thumbprint'
    Should -Invoke Remove-Item -Times 0 -Exactly
  }
}

Describe 'rdw_workdir' {
  BeforeAll { . (Get-RenewdFunctions 'adcs.new') }
  It 'protects %ProgramData%\renewd (SYSTEM and Administrators, full control, inherited, nothing from above) and makes adcs-<nonce>' {
    $env:ProgramData = 'C:\ProgramData'
    Mock Join-Path { ($Path.TrimEnd('\') + '\' + $ChildPath) }
    Mock Test-Path { $false }
    Mock New-Item { } -ParameterFilter { $ItemType -eq 'Directory' }
    $script:Acl = [pscustomobject]@{ Protect = $null; Rules = [System.Collections.Generic.List[string]]::new() }
    $script:Acl | Add-Member ScriptMethod SetAccessRuleProtection { param($p, $keep) $this.Protect = "$p/$keep" }
    $script:Acl | Add-Member ScriptMethod AddAccessRule { param($r) $this.Rules.Add($r) }
    Mock New-Object { $script:Acl } -ParameterFilter { $TypeName -eq 'System.Security.AccessControl.DirectorySecurity' }
    Mock New-Object { 'sid:' + $ArgumentList[0] } -ParameterFilter { $TypeName -eq 'System.Security.Principal.SecurityIdentifier' }
    Mock New-Object { ($ArgumentList -join '|') } -ParameterFilter { $TypeName -eq 'System.Security.AccessControl.FileSystemAccessRule' }
    $script:Set = $null
    Mock Get-Item {
      $o = [pscustomobject]@{}
      $o | Add-Member ScriptMethod SetAccessControl { param($a) $script:Set = $a }
      $o
    } -ParameterFilter { $LiteralPath -eq 'C:\ProgramData\renewd' }
    rdw_workdir $nonce | Should -BeExactly "C:\ProgramData\renewd\adcs-$nonce"
    $script:Acl.Protect | Should -BeExactly 'True/False'
    @($script:Acl.Rules) | Should -Be @('sid:S-1-5-18|FullControl|ContainerInherit, ObjectInherit|None|Allow',
      'sid:S-1-5-32-544|FullControl|ContainerInherit, ObjectInherit|None|Allow')
    $script:Set | Should -Be $script:Acl
    Should -Invoke New-Item -Times 2 -Exactly
  }
}

Describe 'adcs.task' {
  BeforeAll {
    # the SYSTEM task's script, as adcs.task carries it (a here-string)
    $ast = [System.Management.Automation.Language.Parser]::ParseInput((Get-RenewdBody 'adcs.task'), [ref]$null, [ref]$null)
    $asg = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.AssignmentStatementAst] -and $n.Left.Extent.Text -eq '$RdwInner' }, $false)
    $script:Inner = $asg.Right.Expression.Value
    function Task([hashtable]$Over = @{}) {
      # what adcs.c's run_task packs
      $p = @{ nonce = $nonce; store = 'LocalMachine\My'; action = 'submit'; config = $caConfig; request_id = ''; wait = 120; fresh = $true }
      foreach ($k in $Over.Keys) { $p[$k] = $Over[$k] }
      Invoke-RenewdScript 'adcs.task' $p
    }
  }
  BeforeEach {
    Use-AdcsWork
    Use-AdcsTask $issued.RawData
  }
  It 'carries task_inner.ps1 whole in its here-string' {
    $built = [System.IO.File]::ReadAllText([System.IO.Path]::Combine($env:RENEWD_PS_BUILT, 'adcs.task_inner.ps1'))
    $script:Inner | Should -BeExactly ($built -replace '\r?\n\z', '')
  }
  It 'submits in a one-off SYSTEM task: certreq -submit -q -f -config, the issued certificate back as base64' {
    $r = Task
    $r.state | Should -BeExactly 'done'
    $r.reused | Should -BeFalse
    $r.exit | Should -Be 0
    $r.text | Should -BeExactly "RequestId: 42`r`nCertificate retrieved(Issued) Issued"
    [System.Convert]::FromBase64String($r.cer) | Should -Be $issued.RawData
    $r.error | Should -BeNullOrEmpty
    $r.task_result | Should -Be 0
    $script:AdcsCalls[0] | Should -Be @('-submit', '-q', '-f', '-config', $caConfig, (Join-Path $script:Work 'renewal.req'), (Join-Path $script:Work 'renewal.cer'))
    $script:RenewdOut | Should -Match '"ad":\[\]'
    $task = Join-Path $script:Work 'task.ps1'
    Should -Invoke New-ScheduledTaskAction -Times 1 -Exactly -ParameterFilter {
      $Execute -eq 'powershell.exe' -and $Argument -eq "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$task`""
    }
    Should -Invoke New-ScheduledTaskPrincipal -Times 1 -Exactly -ParameterFilter { $UserId -eq 'NT AUTHORITY\SYSTEM' -and $LogonType -eq 'ServiceAccount' -and $RunLevel -eq 'Highest' }
    Should -Invoke New-ScheduledTaskSettingsSet -Times 1 -Exactly -ParameterFilter { $ExecutionTimeLimit.TotalSeconds -eq 180 }
    Should -Invoke Register-ScheduledTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq "renewd-submit-$nonce" -and $TaskPath -eq '\renewd\' -and $Force }
    Should -Invoke Unregister-ScheduledTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq "renewd-submit-$nonce" -and $TaskPath -eq '\renewd\' }
    # task.ps1 is UTF-8 with a BOM (Windows PowerShell 5.1 reads a file without one as ANSI)
    $bytes = [System.IO.File]::ReadAllBytes($task)
    $bytes[0..2] | Should -Be @(0xEF, 0xBB, 0xBF)
    [System.Text.Encoding]::UTF8.GetString($bytes, 3, $bytes.Length - 3) | Should -BeExactly $script:Inner
    [System.IO.File]::Exists((Join-Path $script:Work 'submit.started')) | Should -BeTrue
  }
  It 'retrieves request <rid> with certreq -retrieve -config' -ForEach @(@{ rid = '42' }) {
    $r = Task @{ action = 'retrieve'; request_id = $rid; fresh = $false }
    $r.state | Should -BeExactly 'done'
    $script:AdcsCalls[0] | Should -Be @('-retrieve', '-q', '-f', '-config', $caConfig, $rid, (Join-Path $script:Work 'renewal.cer'))
    Should -Invoke Remove-Item -ParameterFilter { $LiteralPath -eq (Join-Path $script:Work 'renewal.cer') }
  }
  It 'reads a result file again instead of submitting twice' {
    [System.IO.File]::WriteAllText((Join-Path $script:Work 'out-submit.json'), '{"exit":0,"text":"RequestId: 7","cer":null,"error":null,"cainfo":null,"ad":[],"ad_error":null}')
    $r = Task @{ fresh = $false }
    $r.reused | Should -BeTrue
    $r.text | Should -BeExactly 'RequestId: 7'
    Should -Invoke Register-ScheduledTask -Times 0 -Exactly
  }
  It 'sends nothing when a submission started and left no result (state unknown)' {
    [System.IO.File]::WriteAllText((Join-Path $script:Work 'submit.started'), 'started')
    $r = Task @{ fresh = $false }
    $r.state | Should -BeExactly 'unknown'
    $r.exit | Should -BeNullOrEmpty
    Should -Invoke Register-ScheduledTask -Times 0 -Exactly
  }
  It 'a fresh submission starts over' {
    [System.IO.File]::WriteAllText((Join-Path $script:Work 'out-submit.json'), '{"exit":9}')
    [System.IO.File]::WriteAllText((Join-Path $script:Work 'submit.started'), 'started')
    $r = Task
    $r.reused | Should -BeFalse
    $r.exit | Should -Be 0
    Should -Invoke Register-ScheduledTask -Times 1 -Exactly
  }
  It 'times out when the task ran and left nothing, and still unregisters it' {
    Mock Start-ScheduledTask { }
    $script:Polls = 0
    Mock Get-ScheduledTask { $script:Polls++; [pscustomobject]@{ State = $(if ($script:Polls -le 2) { 'Running' } else { 'Ready' }) } }
    Mock Get-ScheduledTaskInfo { [pscustomobject]@{ LastTaskResult = 2147946720 } }
    $r = Task
    $r.state | Should -BeExactly 'timeout'
    $r.task_result | Should -Be 2147946720
    Should -Invoke Stop-ScheduledTask -Times 1 -Exactly
    Should -Invoke Unregister-ScheduledTask -Times 1 -Exactly
  }
  It 'discovers the CA: MSCEP\CAInfo, certutil -dump, AD (unreachable here: ad_error, ad an empty array)' {
    Mock Get-ItemProperty { [pscustomobject]@{ Configuration = $caConfig } } -ParameterFilter { $LiteralPath -eq 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP\CAInfo' }
    Mock certutil.exe { $AdcsCalls.Add(@($args)); $global:LASTEXITCODE = 0; "  Config: `"$caConfig`"" }
    $r = Task @{ action = 'dump'; config = '' }
    $r.state | Should -BeExactly 'done'
    $r.cainfo | Should -BeExactly $caConfig
    $r.text | Should -BeExactly "  Config: `"$caConfig`""
    $r.cer | Should -BeNullOrEmpty
    $r.ad_error | Should -Not -BeNullOrEmpty
    $script:AdcsCalls[0] | Should -Be @('-dump')
    $script:RenewdOut | Should -Match '"ad":\[\]'
  }
  It 'reports certreq''s failure and its exit code' {
    Mock certreq.exe { $global:LASTEXITCODE = -2146875374; 'Certificate Request Processor: The RPC server is unavailable. 0x800706ba' }
    $r = Task
    $r.exit | Should -Be -2146875374
    $r.text | Should -BeLike '*0x800706ba'
    $r.cer | Should -BeNullOrEmpty
  }
  It 'refuses <why>' -ForEach @(
    @{ why = 'another action'; o = @{ action = 'accept' }; msg = "rd_fail: unknown certreq action 'accept'" }
    @{ why = 'a config without a CA name'; o = @{ config = 'ca01' }; msg = 'rd_fail: CA configuration * is not <CA host>\<CA name>' }
    @{ why = 'a config with a quote'; o = @{ config = 'ca01\Corp" -f x' }; msg = 'rd_fail: CA configuration * is not <CA host>\<CA name>' }
    @{ why = 'a request id that is not a number'; o = @{ action = 'retrieve'; request_id = '4 2' }; msg = "rd_fail: request id '4 2' is not a number" }
  ) {
    { Task $o } | Should -Throw $msg
    Should -Invoke Register-ScheduledTask -Times 0 -Exactly
  }
}
