// EmuHost.cs — the PSHost of renewd-pshost: where each stream goes
// ([rule 8], [rule 10] in tests/windows/README.md) and `exit N`.
using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace Renewd.PsHost
{
    internal sealed class EmuHost : PSHost
    {
        private readonly EmuUI ui;
        private readonly Guid id = Guid.NewGuid();
        public int? ExitCode;

        public EmuHost(TextWriter stdout, TextWriter stderr) { ui = new EmuUI(stdout, stderr); }

        public override string Name => "ConsoleHost";
        public override Version Version => new Version(5, 1);
        public override Guid InstanceId => id;
        public override PSHostUserInterface UI => ui;
        public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
        public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
        // `exit N` at the top level of the command or file
        public override void SetShouldExit(int exitCode) { ExitCode ??= exitCode; }
        public override void EnterNestedPrompt() => throw NonInteractive();
        public override void ExitNestedPrompt() => throw NonInteractive();
        public override void NotifyBeginApplication() { }
        public override void NotifyEndApplication() { }

        public void ReportException(Exception e)
        {
            ErrorRecord r = (e as IContainsErrorRecord)?.ErrorRecord;
            string where = r?.InvocationInfo?.PositionMessage;
            ui.WriteErrorLine(where != null ? e.Message + Environment.NewLine + where : e.Message);
        }

        // [rule 10] -NonInteractive: reading from the host fails
        internal static PSInvalidOperationException NonInteractive() =>
            new PSInvalidOperationException("PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.");
    }

    internal sealed class EmuUI : PSHostUserInterface
    {
        private readonly TextWriter o, e;
        private readonly EmuRawUI raw = new EmuRawUI();

        public EmuUI(TextWriter stdout, TextWriter stderr) { o = stdout; e = stderr; }

        public override PSHostRawUserInterface RawUI => raw;
        public override void Write(string value) => o.Write(value);
        public override void Write(ConsoleColor fg, ConsoleColor bg, string value) => o.Write(value);
        public override void WriteLine(string value) => o.WriteLine(value);
        // [rule 8] errors go to stderr; warning, verbose and debug lines are
        // host output, on stdout; progress is not shown when not interactive
        public override void WriteErrorLine(string value) => e.WriteLine(value);
        public override void WriteWarningLine(string message) => o.WriteLine("WARNING: " + message);
        public override void WriteVerboseLine(string message) => o.WriteLine("VERBOSE: " + message);
        public override void WriteDebugLine(string message) => o.WriteLine("DEBUG: " + message);
        public override void WriteProgress(long sourceId, ProgressRecord record) { }
        public override string ReadLine() => throw EmuHost.NonInteractive();
        public override SecureString ReadLineAsSecureString() => throw EmuHost.NonInteractive();
        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) =>
            throw EmuHost.NonInteractive();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            throw EmuHost.NonInteractive();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
                                                         PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
            throw EmuHost.NonInteractive();
        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice) =>
            throw EmuHost.NonInteractive();
    }

    // A console of 120 columns with no window: what formatting asks for.
    internal sealed class EmuRawUI : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public override Size BufferSize { get; set; } = new Size(120, 3000);
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new Size(120, 50);
        public override Size MaxWindowSize => new Size(120, 50);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get; set; } = new Size(120, 50);
        public override string WindowTitle { get; set; } = "";
        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException("no console buffer");
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw EmuHost.NonInteractive();
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
    }
}
