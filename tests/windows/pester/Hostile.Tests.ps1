# Hostile values in every parameter of a Windows script that carries an
# account, a registry key or value, a path, a service's text, a CA
# configuration or a certificate subject: quotes of every kind (PowerShell
# also takes U+2018/U+2019 as single and U+201C/U+201D as double quotes:
# about_Quoting_Rules,
# https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_quoting_rules),
# $( ), backticks, here-string markers, CR/LF, NUL, spaces around, a
# character outside the BMP, 70 KB. The parameters travel as renewd sends them
# (orchestrator/transport/remote.c): the JSON object as jansson writes it
# with JSON_COMPACT | JSON_ENSURE_ASCII (non-ASCII as \uXXXX, surrogate
# pairs above U+FFFF), base64 on stdin, made into $P by the prelude's own
# statement (Invoke-RenewdScript -Sent). Each value either reaches the
# mocked Windows boundary byte for byte, or is refused by rd_fail before
# anything is touched; and nothing in it ever runs: the canary command
# Invoke-RenewdCanary and Invoke-Expression are never called.
BeforeDiscovery {
  # script parameter -> which values its validation lets through (the rest
  # must be refused)
  $targets = @(
    @{ t = 'windows.registry.set new (REG_SZ)' }
    @{ t = 'windows.registry.set value name' }
    @{ t = 'windows.registry.read key' }
    @{ t = 'windows.key_acl.set account' }
    @{ t = 'windows.key_acl.read account' }
    @{ t = 'windows.key_acl.pool account' }
    @{ t = 'windows.key_acl.set path' }
    @{ t = 'windows.log.query path' }
    @{ t = 'windows.log.query contains' }
    @{ t = 'windows.event.query log' }
    @{ t = 'windows.event.query provider' }
    @{ t = 'windows.iis.read site' }
    @{ t = 'windows.iis.read host' }
    @{ t = 'adcs.task config' }
    @{ t = 'windows.service.probe service' }
    @{ t = 'windows.prune.apply backup_dir' }
    @{ t = 'windows.doctor config' }
    @{ t = 'windows.doctor services' }
    @{ t = 'acme.win.new subject (names[0])' }
  )
}

BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Join-Path $PSScriptRoot 'AdcsTask.ps1')
  . (Get-RenewdFunctions 'adcs.accept')
  . (Get-RenewdFunctions 'windows.doctor')
  function Invoke-RenewdCanary { $global:RenewdCanaryRan = $true }
  $Values = @(
    @{ what = 'ASCII quotes'; v = "it's `"quoted`" ''" }
    @{ what = 'curly quotes'; v = "x`u{2018}y`u{2019}z`u{201C}w`u{201D}" }
    @{ what = 'a curly single-quote breakout'; v = "`u{2019}; Invoke-RenewdCanary; `u{2018}" }
    @{ what = 'a curly double-quote breakout'; v = "`u{201D}; Invoke-RenewdCanary; `u{201C}" }
    @{ what = 'an ASCII single-quote breakout'; v = "'; Invoke-RenewdCanary; '" }
    @{ what = 'an ASCII double-quote breakout'; v = '"; Invoke-RenewdCanary; "' }
    @{ what = 'a subexpression'; v = '$(Invoke-RenewdCanary)@(Invoke-RenewdCanary)' }
    @{ what = 'variables'; v = '$P $env:ProgramData ${function:Invoke-RenewdCanary}' }
    @{ what = 'backticks'; v = 'a`nb`$(Invoke-RenewdCanary)`' }
    @{ what = 'here-string markers'; v = "@'`r`nInvoke-RenewdCanary`r`n'@`n@`"`nInvoke-RenewdCanary`n`"@" }
    @{ what = 'CR/LF'; v = "a`rb`nc`r`nInvoke-RenewdCanary" }
    @{ what = 'NUL and ESC'; v = "a`0b`e[31m" }
    @{ what = 'spaces around'; v = '  padded  ' }
    @{ what = 'a character outside the BMP'; v = "key`u{1F511}" }
    @{ what = '70 KB'; v = ('x' * 70000) + "'`$(Invoke-RenewdCanary)" }
  )

  # A JSON text as jansson's json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII)
  # writes it (jansson dump.c: " \ and the control characters escaped,
  # everything above 0x7F as \uXXXX, UTF-16 surrogate pairs), then base64
  # as remote.c puts it on stdin. VALUE: an ordered dictionary of strings,
  # integers, booleans and arrays of strings.
  function ConvertTo-RenewdSent($Value) {
    function enc($x) {
      if ($null -eq $x) { return 'null' }
      if ($x -is [bool]) { return $(if ($x) { 'true' } else { 'false' }) }
      if ($x -is [int] -or $x -is [long]) { return [string]$x }
      if ($x -is [System.Collections.IDictionary]) {
        return '{' + ((@(foreach ($k in $x.Keys) { (enc ([string]$k)) + ':' + (enc $x[$k]) })) -join ',') + '}'
      }
      if ($x -is [array]) { return '[' + ((@(foreach ($e in $x) { enc $e })) -join ',') + ']' }
      $e = [regex]::Replace([string]$x, '["\\\x00-\x1F]|[^\x00-\x7F]', {
          param($m)
          switch ([int]$m.Value[0]) {
            0x22 { '\"' } 0x5C { '\\' } 0x08 { '\b' } 0x0C { '\f' } 0x0A { '\n' } 0x0D { '\r' } 0x09 { '\t' }
            default { '\u{0:X4}' -f [int]$m.Value[0] }
          }
        })
      return '"' + $e + '"'
    }
    $json = enc $Value
    if ($json -match '[^\x20-\x7F]') { throw 'not ASCII' }
    return [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($json))
  }
  function Sent([string]$Name, $Params) { Invoke-RenewdScript $Name -Sent (ConvertTo-RenewdSent $Params) }

  $thumb = 'AB' * 20
  # doctor.ps1's boundary: every fact there, certutil -ping recording the
  # configuration, Get-Service the names (Schedule aside)
  function Use-Doctor {
    Mock rdw_doctor_admin { $true }
    Mock rdw_doctor_reg { $null }
    Mock rdw_doctor_tool { 'C:\Windows\system32\' + $Name }
    Mock Get-ScheduledTask { @() }
    Mock Get-WinEvent { [pscustomobject]@{ LogName = 'Application' } } -ParameterFilter { $ListLog }
    Mock Get-WinEvent { } -ParameterFilter { $FilterHashtable }
    Mock Get-Service { [pscustomobject]@{ Status = 'Running' } } -ParameterFilter { $Name[0] -eq 'Schedule' }
    Mock Get-Service { $script:Seen = $Name[0] } -ParameterFilter { $Name[0] -ne 'Schedule' }
    Mock rdw_native { $script:Seen = $ArgList[1] -replace '^ca01\\', ''; [ordered]@{ exit = 0; text = 'ok' } }
  }
  $crypto = 'C:\ProgramData\Microsoft\Crypto'
  $env:ProgramData = 'C:\ProgramData'
  $cert = New-RenewdCert 'CN=hostile'
  # Each target: run (param $v) -> the value its boundary received ($null:
  # none reached), and accepts (param $v) -> whether the script's
  # validation lets $v through.
  $Targets = @{
    'windows.registry.set new (REG_SZ)'      = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock Test-Path { $true }
        Mock Get-Item { New-RenewdRegKey @{ Thumb = 'before' } }
        Mock Set-ItemProperty { $script:Seen = $Value }
        $null = Sent 'windows.registry.set' ([ordered]@{ key = 'HKLM\SOFTWARE\renewd'; value = 'Thumb'; kind = 'REG_SZ'; expect = 'before'; new = $v })
      }
    }
    'windows.registry.set value name'        = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock Test-Path { $true }
        $script:Vals = @{ $v = 'before' }
        Mock Get-Item { New-RenewdRegKey $script:Vals }
        Mock Set-ItemProperty { $script:Seen = $Name }
        $null = Sent 'windows.registry.set' ([ordered]@{ key = 'HKLM\SOFTWARE\renewd'; value = $v; kind = 'REG_SZ'; expect = 'before'; new = 'after' })
      }
    }
    'windows.registry.read key'              = @{
      accepts = { param($v) $v -notmatch '[\r\n]' -and -not $v.Contains('..') }
      run     = {
        param($v)
        Mock Test-Path { $script:Seen = [string]$LiteralPath -replace '^Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\', ''; $false }
        $null = Sent 'windows.registry.read' ([ordered]@{ key = "HKLM\SOFTWARE\$v"; value = 'Thumb' })
      }
    }
    'windows.key_acl.set account'            = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock Join-Path { ($Path.TrimEnd('\') + '\' + $ChildPath) }
        Mock Test-Path { $true }
        Mock New-Object { $script:Seen = $ArgumentList[0]; throw 'Some or all identity references could not be translated.' } -ParameterFilter { $TypeName -eq 'System.Security.Principal.NTAccount' }
        $null = Sent 'windows.key_acl.set' ([ordered]@{ path = "$crypto\Keys\k1"; account = $v; rights = 'read'; op = 'grant' })
      }
    }
    'windows.key_acl.read account'           = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock New-Object { $script:Seen = $ArgumentList[0]; throw 'Some or all identity references could not be translated.' } -ParameterFilter { $TypeName -eq 'System.Security.Principal.NTAccount' }
        $null = Sent 'windows.key_acl.read' ([ordered]@{ store = 'LocalMachine\My'; thumbprint = $thumb; account = $v })
      }
    }
    'windows.key_acl.pool account'           = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock Import-Module { }
        Mock New-Object { $script:Seen = $ArgumentList[0]; throw 'Some or all identity references could not be translated.' } -ParameterFilter { $TypeName -eq 'System.Security.Principal.NTAccount' }
        $null = Sent 'windows.key_acl.pool' ([ordered]@{ app_pool = 'SCEP'; account = $v })
      }
    }
    'windows.key_acl.set path'               = @{
      accepts = { param($v) $v -notmatch '[\\/\x00-\x1f]' -and -not $v.Contains('..') }
      run     = {
        param($v)
        Mock Join-Path { ($Path.TrimEnd('\') + '\' + $ChildPath) }
        Mock Test-Path { $script:Seen = [string]$LiteralPath -replace '^C:\\ProgramData\\Microsoft\\Crypto\\Keys\\', ''; $false }
        $null = Sent 'windows.key_acl.set' ([ordered]@{ path = "$crypto\Keys\$v"; account = 'S-1-5-20'; rights = 'read'; op = 'grant' })
      }
    }
    'windows.log.query path'                 = @{
      accepts = { param($v) -not $v.Contains('..') }
      run     = {
        param($v)
        Mock Test-Path { $script:Seen = [string]$LiteralPath -replace '^C:\\Logs\\', ''; $false }
        $null = Sent 'windows.log.query' ([ordered]@{ path = "C:\Logs\$v"; contains = 'x'; wait = 0 })
      }
    }
    'windows.log.query contains'             = @{
      # a value with a line break cannot be on one line of the log: not
      # found, and nothing refused
      accepts = { param($v) if ($v -match '\n') { 'none' } else { $true } }
      expect  = { param($v) $v.Substring(0, [Math]::Min(400, $v.Length)) }
      run     = {
        param($v)
        # the log holds the value on a line of its own (log_query opens it
        # with .NET: a relative file name in the current directory)
        $cwd = [Environment]::CurrentDirectory
        [Environment]::CurrentDirectory = $TestDrive
        try {
          [System.IO.File]::WriteAllText([System.IO.Path]::Combine($TestDrive, 'C:\Logs\x.log'), "first`r`n" + $v + "`r`nlast`r`n")
          Mock Test-Path { $true }
          $r = Sent 'windows.log.query' ([ordered]@{ path = 'C:\Logs\x.log'; contains = $v; wait = 0 })
          if ($r.found) { $script:Seen = $r.line }
        } finally { [Environment]::CurrentDirectory = $cwd }
      }
    }
    'windows.event.query log'                = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock Get-WinEvent { $script:Seen = $ListLog[0] }
        $null = Sent 'windows.event.query' ([ordered]@{ log = $v; id = 1; provider = 'P'; since = 0; wait = 0; failure_ids = @() })
      }
    }
    'windows.event.query provider'           = @{
      accepts = { param($v) $v -notmatch '[*?\[\]]' }
      run     = {
        param($v)
        Mock Get-WinEvent { [pscustomobject]@{ LogName = 'Application' } } -ParameterFilter { $ListLog }
        Mock Get-WinEvent { $script:Seen = $FilterHashtable[0].ProviderName } -ParameterFilter { $FilterHashtable }
        $null = Sent 'windows.event.query' ([ordered]@{ log = 'Application'; id = 1; provider = $v; since = 0; wait = 0; failure_ids = @() })
      }
    }
    'windows.iis.read site'                  = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock Import-Module { }
        Mock Get-Website { $script:Seen = $Name; [pscustomobject]@{ name = $Name } }
        Mock Get-WebBinding { }
        $null = Sent 'windows.iis.read' ([ordered]@{ site = $v; protocol = 'https'; port = '443'; host = '' })
      }
    }
    'windows.iis.read host'                  = @{
      accepts = { $true }
      run     = {
        param($v)
        Mock Import-Module { }
        Mock Get-Website { [pscustomobject]@{ name = $Name } }
        Mock Get-WebBinding { $script:Seen = $HostHeader }
        $null = Sent 'windows.iis.read' ([ordered]@{ site = 'Default Web Site'; protocol = 'https'; port = '443'; host = $v })
      }
    }
    'adcs.task config'                       = @{
      accepts = { param($v) $v -notmatch '["\\\r\n]' }
      run     = {
        param($v)
        Use-AdcsWork
        Use-AdcsTask $cert.RawData
        $null = Sent 'adcs.task' ([ordered]@{ nonce = '0123456789abcdef'; store = 'LocalMachine\My'; action = 'submit'; config = "ca01\$v"
                                              request_id = ''; wait = 120; fresh = $true })
        # through task.json into the SYSTEM task, to certreq's -config
        if ($AdcsCalls.Count) { $script:Seen = $AdcsCalls[0][4] -replace '^ca01\\', '' }
      }
    }
    'windows.service.probe service'          = @{
      accepts = { param($v) $v -match '^[A-Za-z0-9_.$ -]{1,256}\z' }
      run     = {
        param($v)
        Mock Get-Service { $script:Seen = $Name[0] }
        $null = Sent 'windows.service.probe' ([ordered]@{ action = 'restart'; service = $v })
      }
    }
    'windows.prune.apply backup_dir'         = @{
      accepts = { param($v) $v -notmatch '["*?<>|\r\n]' -and -not $v.Contains('..') }
      run     = {
        param($v)
        Mock Get-ChildItem { @($cert) } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
        Mock Test-Path { $script:Seen = [string]$LiteralPath -replace '^C:\\Backup\\', ''; $true }
        $null = Sent 'windows.prune.apply' ([ordered]@{ store = 'LocalMachine\My'; new = $cert.Thumbprint; backup_dir = "C:\Backup\$v"; remove = @() })
      }
    }
    'windows.doctor config'                  = @{
      accepts = { param($v) $v -notmatch '[\\"\x00-\x1f]' }
      run     = {
        param($v)
        Use-Doctor
        $null = Sent 'windows.doctor' ([ordered]@{ config = "ca01\$v"; services = @(); sites = @(); pools = @() })
      }
    }
    'windows.doctor services'                = @{
      accepts = { param($v) $v -match '^[^\x00-\x1f"*?\[\]]{1,256}\z' }
      run     = {
        param($v)
        Use-Doctor
        $null = Sent 'windows.doctor' ([ordered]@{ config = ''; services = @($v); sites = @(); pools = @() })
      }
    }
    'acme.win.new subject (names[0])'        = @{
      accepts = { $false }
      run     = {
        param($v)
        Use-AdcsWork
        Mock rdw_native { $script:Seen = 'certreq ran' }
        $saved = $env:RENEWD_PS_BUILT
        $env:RENEWD_PS_BUILT = Join-Path (Split-Path -Parent $saved) 'ps-acme'
        try {
          $null = Sent 'acme.win.new' ([ordered]@{ nonce = '0123456789abcdef'; names = @($v); key_type = 'rsa'; bits = '2048'; request = '' })
        } finally { $env:RENEWD_PS_BUILT = $saved }
      }
    }
  }
}

Describe 'hostile values' {
  BeforeEach {
    Mock Invoke-Expression { throw 'Invoke-Expression reached' }
    Mock rdw_workdir { throw 'rdw_workdir reached' }
  }
  # one test a parameter, every value in it: each failure named
  It '<t>' -ForEach $targets {
    $target = $Targets[$t]
    $bad = [System.Collections.Generic.List[string]]::new()
    foreach ($x in $Values) {
      $v = $x.v
      $global:RenewdCanaryRan = $false
      $script:Seen = $null
      $failed = $null
      try { & $target.run $v } catch { $failed = $_.Exception.Message }
      if ($failed -and $failed.Length -gt 300) { $failed = $failed.Substring(0, 300) }
      if ($global:RenewdCanaryRan) { $bad.Add("$($x.what): the value ran") }
      $outcome = & $target.accepts $v
      if ($outcome -is [string] -and $outcome -eq 'none') {
        if ($failed -or $null -ne $script:Seen) { $bad.Add("$($x.what): expected neither a refusal nor a hit, got '$failed' / '$($script:Seen)'") }
      } elseif ($outcome) {
        $want = if ($target.ContainsKey('expect')) { & $target.expect $v } else { $v }
        if ($script:Seen -isnot [string] -or -not $want.Equals($script:Seen, [System.StringComparison]::Ordinal)) {
          $bad.Add("$($x.what): the boundary got something else than the value ($failed)")
        }
      } elseif ($null -ne $script:Seen -or $failed -notlike 'rd_fail: *') {
        $bad.Add("$($x.what): not refused by rd_fail before the boundary ($failed)")
      }
    }
    Should -Invoke Invoke-Expression -Times 0 -Exactly
    $bad | Should -BeNullOrEmpty
  }
}
