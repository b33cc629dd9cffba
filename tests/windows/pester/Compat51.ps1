# Compat51.ps1 — what Windows PowerShell 5.1 lacks, found by walking the
# AST of PowerShell 7's parser (which accepts it all). Get-Ps51Problem TEXT
# returns one "LINE:COLUMN: WHAT" per use. A deny-list: it knows the
# PowerShell 6/7 additions below and nothing else, so a script that passes
# is not proven to run on 5.1, only free of these. Sources: "What's New in
# PowerShell 7.x" (https://learn.microsoft.com/powershell/scripting/whats-new/overview)
# and each about_ topic named below.
using namespace System.Management.Automation.Language

# Commands that 5.1 does not have.
$script:Ps51NoCommand = @(
  'Join-String', 'Get-Error', 'Test-Json', 'ConvertFrom-Markdown', 'Show-Markdown', 'Get-MarkdownOption',
  'Set-MarkdownOption', 'Get-Uptime', 'Remove-Service', 'Remove-Alias', 'Get-PSSubsystem',
  'Enable-ExperimentalFeature', 'Disable-ExperimentalFeature', 'Get-ExperimentalFeature', 'Start-ThreadJob',
  'ConvertTo-CliXml', 'ConvertFrom-CliXml', 'Get-SecureRandom'
)

# Parameters added after 5.1 to commands that 5.1 has.
$script:Ps51NoParameter = @{
  'ForEach-Object'   = @('Parallel', 'ThrottleLimit', 'TimeoutSeconds', 'AsJob', 'UseNewRunspace')
  'ConvertFrom-Json' = @('AsHashtable', 'Depth', 'NoEnumerate', 'DateKind')
  'ConvertTo-Json'   = @('AsArray', 'EnumsAsStrings', 'EscapeHandling')
  'Get-Content'      = @('AsByteStream')
  'Set-Content'      = @('AsByteStream')
  'Add-Content'      = @('AsByteStream')
  'Join-Path'        = @('AdditionalChildPath')
  'Split-Path'       = @('LeafBase', 'Extension')
  'Sort-Object'      = @('Top', 'Bottom', 'Stable')
  'Get-Date'         = @('AsUTC', 'UnixTimeSeconds')
  'Select-String'    = @('Raw', 'NoEmphasis', 'Culture')
  'Get-Random'       = @('Shuffle')
  'Test-Connection'  = @('TargetName', 'Ping', 'TcpPort', 'MtuSize', 'Traceroute', 'Repeat')
  'Invoke-WebRequest' = @('SkipCertificateCheck', 'Authentication', 'Token', 'SslProtocol', 'SkipHttpErrorCheck',
                          'StatusCodeVariable', 'Resume', 'MaximumRetryCount', 'RetryIntervalSec', 'SkipHeaderValidation',
                          'AllowUnencryptedAuthentication', 'HttpVersion', 'ConnectionTimeoutSeconds', 'OperationTimeoutSeconds')
  'Invoke-RestMethod' = @('SkipCertificateCheck', 'Authentication', 'Token', 'SslProtocol', 'SkipHttpErrorCheck',
                          'StatusCodeVariable', 'Resume', 'MaximumRetryCount', 'RetryIntervalSec', 'SkipHeaderValidation',
                          'AllowUnencryptedAuthentication', 'HttpVersion', 'ResponseHeadersVariable')
  'Import-Module'    = @('UseWindowsPowerShell', 'SkipEditionCheck')
  'Out-String'       = @('NoNewline')
  'Get-Item'         = @('FollowSymlink')
  'Start-Process'    = @('Environment')
}

# 5.1 parameters that abbreviate a denied one (-Leaf is not -LeafBase).
$script:Ps51HasParameter = @{ 'Split-Path' = @('Leaf') }

# -Encoding values that 5.1's cmdlets refuse (about_Character_Encoding).
$script:Ps51NoEncoding = @('utf8NoBOM', 'utf8BOM', 'ansi', 'Latin1')

# Automatic variables that 5.1 does not set (an error under strict mode).
$script:Ps51NoVariable = @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR', 'PSStyle', 'EnabledExperimentalFeatures',
  'PSNativeCommandUseErrorActionPreference', 'PSNativeCommandArgumentPassing')

# Static .NET members that .NET Framework 4.8 (5.1's runtime) lacks.
$script:Ps51NoStatic = @(
  'Convert::ToHexString', 'Convert::FromHexString', 'Convert::ToHexStringLower', 'Path::GetRelativePath', 'Path::Join',
  'Math::Clamp', 'DateTime::UnixEpoch', 'DateTimeOffset::UnixEpoch', 'Random::Shared', 'Encoding::Latin1',
  'X509Certificate2::CreateFromPem', 'X509Certificate2::CreateFromPemFile', 'X509Certificate2::CreateFromEncryptedPem',
  'RandomNumberGenerator::GetBytes', 'RandomNumberGenerator::Fill', 'RandomNumberGenerator::GetInt32',
  'SHA256::HashData', 'SHA1::HashData', 'MD5::HashData', 'File::ReadAllTextAsync', 'Directory::CreateTempSubdirectory',
  'Environment::ProcessPath', 'Environment::ProcessId', 'OperatingSystem::IsWindows', 'ArgumentNullException::ThrowIfNull'
)
# Instance methods only .NET Core has, by name.
$script:Ps51NoMethod = @('ExportCertificatePem', 'ImportFromPem', 'ExportPkcs8PrivateKeyPem', 'ReplaceLineEndings',
  'ExportRSAPrivateKeyPem', 'ExportSubjectPublicKeyInfoPem', 'GetRSAPrivateKeyPem')

# Type literals that 5.1 does not know.
$script:Ps51NoType = @('semver', 'System.Management.Automation.SemanticVersion', 'System.Text.Rune', 'System.Half',
  'System.Index', 'System.Range', 'System.DateOnly', 'System.TimeOnly')

function Get-Ps51Problem([string]$Text) {
  $tokens = $null
  $errors = $null
  $ast = [Parser]::ParseInput($Text, [ref]$tokens, [ref]$errors)
  $out = [System.Collections.Generic.List[string]]::new()
  $add = { param($node, [string]$what) $out.Add("$($node.Extent.StartLineNumber):$($node.Extent.StartColumnNumber): $what") }
  foreach ($e in $errors) { $out.Add("$($e.Extent.StartLineNumber):$($e.Extent.StartColumnNumber): parse error: $($e.Message)") }
  foreach ($n in $ast.FindAll({ $true }, $true)) {
    switch ($n.GetType().Name) {
      'PipelineChainAst' { & $add $n 'pipeline chain && / || (PowerShell 7.0, about_Pipeline_Chain_Operators)' }
      'TernaryExpressionAst' { & $add $n 'ternary ?: (PowerShell 7.0, about_Operators)' }
      'BinaryExpressionAst' {
        if ($n.Operator -eq [TokenKind]::QuestionQuestion) { & $add $n 'null-coalescing ?? (PowerShell 7.0, about_Operators)' }
        if (@([TokenKind]::Ireplace, [TokenKind]::Creplace) -contains $n.Operator -and
            $n.Right -is [ArrayLiteralAst] -and @($n.Right.Elements | Where-Object { $_ -is [ScriptBlockExpressionAst] }).Count) {
          & $add $n '-replace with a script block (PowerShell 6.1, about_Comparison_Operators)'
        }
      }
      'AssignmentStatementAst' {
        if ($n.Operator -eq [TokenKind]::QuestionQuestionEquals) { & $add $n 'null-coalescing assignment ??= (PowerShell 7.0)' }
      }
      'MemberExpressionAst' { if ($n.NullConditional) { & $add $n 'null-conditional ?. (PowerShell 7.1, about_Operators)' } }
      'InvokeMemberExpressionAst' {
        if ($n.NullConditional) { & $add $n 'null-conditional ?. (PowerShell 7.1, about_Operators)' }
        $m = [string]$n.Member.Extent.Text
        if ($n.Static -and $n.Expression -is [TypeExpressionAst]) {
          $t = $n.Expression.TypeName.Name -replace '^.*\.', ''
          if ($script:Ps51NoStatic -contains "$t`::$m") { & $add $n "[$t]::$m is not in .NET Framework 4.8" }
        } elseif ($script:Ps51NoMethod -contains $m) { & $add $n ".$m() is not in .NET Framework 4.8" }
      }
      'IndexExpressionAst' { if ($n.NullConditional) { & $add $n 'null-conditional ?[] (PowerShell 7.1, about_Operators)' } }
      'PipelineAst' { if ($n.Background) { & $add $n 'background operator & (PowerShell 6.0, about_Operators)' } }
      'ScriptBlockAst' {
        if ($n.PSObject.Properties['CleanBlock'] -and $n.CleanBlock) { & $add $n 'clean block (PowerShell 7.3, about_Functions_Advanced_Methods)' }
      }
      'VariableExpressionAst' {
        if ($script:Ps51NoVariable -contains $n.VariablePath.UserPath) { & $add $n "`$$($n.VariablePath.UserPath) is not set by 5.1" }
      }
      'TypeExpressionAst' { if ($script:Ps51NoType -contains $n.TypeName.FullName) { & $add $n "[$($n.TypeName.FullName)] is not in 5.1" } }
      'TypeConstraintAst' { if ($script:Ps51NoType -contains $n.TypeName.FullName) { & $add $n "[$($n.TypeName.FullName)] is not in 5.1" } }
      'CommandAst' {
        $name = $n.GetCommandName()
        if (-not $name) { break }
        if ($script:Ps51NoCommand -contains $name) { & $add $n "$name is not in 5.1" }
        $deny = $script:Ps51NoParameter[$name]
        $els = $n.CommandElements
        for ($i = 1; $i -lt $els.Count; $i++) {
          $e = $els[$i]
          if ($e -isnot [CommandParameterAst]) { continue }
          $pn = $e.ParameterName
          # a name or an abbreviation of at least 4 letters
          if (@($script:Ps51HasParameter[$name]) -contains $pn) { continue }
          foreach ($d in @($deny)) {
            if ($d -and ($pn -eq $d -or ($pn.Length -ge 4 -and $d.StartsWith($pn, [StringComparison]::OrdinalIgnoreCase)))) {
              & $add $e "$name -$d is not in 5.1"
            }
          }
          if ($pn -eq 'Encoding') {
            $v = if ($e.Argument) { $e.Argument } elseif ($i + 1 -lt $els.Count) { $els[$i + 1] } else { $null }
            if ($v -is [StringConstantExpressionAst] -and $script:Ps51NoEncoding -contains $v.Value) {
              & $add $e "-Encoding $($v.Value) is not in 5.1 (about_Character_Encoding)"
            }
          }
        }
        if ($name -eq 'Join-Path' -and @($els | Select-Object -Skip 1 | Where-Object { $_ -isnot [CommandParameterAst] }).Count -gt 2) {
          & $add $n 'Join-Path with more than one child path (PowerShell 6.0)'
        }
      }
    }
  }
  # `u{...} escapes in expandable strings (PowerShell 6.0, about_Special_Characters)
  foreach ($t in $tokens) {
    if ($t -is [StringExpandableToken] -and $t.Text -match '`u\{') {
      $out.Add("$($t.Extent.StartLineNumber):$($t.Extent.StartColumnNumber): escape ``u{} (PowerShell 6.0, about_Special_Characters)")
    }
  }
  return , $out.ToArray()
}
