// WinCmdLine.cs — the command line an SSH client sends to a Windows
// OpenSSH server, as that server runs it: with its default shell, cmd.exe,
// as `cmd.exe /c <line>`, and the program's own C runtime splitting the
// line into arguments. `renewd-pshost --ssh-command LINE` applies these
// rules, then runs LINE's powershell.exe; an emulated Windows lab host's
// sshd would run it as the user's shell (tests/windows/README.md, [rule 12]).
//
// Sources:
// - Windows OpenSSH runs commands with cmd.exe unless DefaultShell says
//   otherwise: https://learn.microsoft.com/windows-server/administration/openssh/openssh-server-configuration
// - cmd.exe /c: https://learn.microsoft.com/windows-server/administration/windows-commands/cmd
//   (& | < > ^ are command separators, redirections and the escape
//   character; %NAME% expands a variable)
// - argument splitting: "Parsing C command-line arguments",
//   https://learn.microsoft.com/cpp/c-language/parsing-c-command-line-arguments
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Renewd.PsHost
{
    internal static class WinCmdLine
    {
        // What cmd.exe would interpret in LINE, or null. The emulated cmd.exe
        // does not run separators, redirections or variables: a line that
        // needs them is refused, so a renewd change that relies on them is
        // seen here instead of on a server.
        public static string CmdProblem(string line)
        {
            bool quoted = false;
            foreach (char c in line)
            {
                if (c == '"') { quoted = !quoted; continue; }
                if (c == '\r' || c == '\n') return "a line break";
                if (c == '%') return "'%' (cmd.exe expands %NAME%, quoted or not)";
                if (!quoted && "&|<>^".IndexOf(c) >= 0) return $"'{c}' outside quotes";
            }
            return null;
        }

        // The C runtime's rules: whitespace separates arguments; "..."
        // groups; 2n backslashes + " -> n backslashes and a quote that
        // opens/closes; 2n+1 backslashes + " -> n backslashes and a literal
        // "; other backslashes are literal; "" inside quotes is a literal ".
        // argv[0] (the program) ends at the first whitespace, or at the
        // closing quote, and keeps its backslashes.
        public static List<string> Split(string line)
        {
            var args = new List<string>();
            int i = 0, n = line.Length;
            while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
            var sb = new StringBuilder();
            if (i < n && line[i] == '"')
            {
                for (i++; i < n && line[i] != '"'; i++) sb.Append(line[i]);
                if (i < n) i++;
            }
            else
            {
                for (; i < n && line[i] != ' ' && line[i] != '\t'; i++) sb.Append(line[i]);
            }
            args.Add(sb.ToString());
            while (true)
            {
                while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
                if (i >= n) break;
                sb.Clear();
                bool quoted = false;
                while (i < n && (quoted || (line[i] != ' ' && line[i] != '\t')))
                {
                    if (line[i] == '\\')
                    {
                        int b = 0;
                        while (i < n && line[i] == '\\') { b++; i++; }
                        if (i < n && line[i] == '"')
                        {
                            sb.Append('\\', b / 2);
                            if (b % 2 == 1) { sb.Append('"'); i++; }
                        }
                        else
                        {
                            sb.Append('\\', b);
                        }
                        continue;
                    }
                    if (line[i] == '"')
                    {
                        if (quoted && i + 1 < n && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        quoted = !quoted;
                        i++;
                        continue;
                    }
                    sb.Append(line[i++]);
                }
                args.Add(sb.ToString());
            }
            return args;
        }

        // The powershell.exe arguments of an SSH command line, or null with
        // the error written as cmd.exe writes it (exit code in `code`).
        public static string[] PowerShellArgs(string line, TextWriter err, out int code)
        {
            code = 0;
            string p = CmdProblem(line);
            if (p != null)
            {
                err.WriteLine($"renewd-pshost: the emulated cmd.exe does not interpret {p}");
                code = 1;
                return null;
            }
            List<string> argv = Split(line);
            string prog = argv[0];
            string leaf = prog.Substring(prog.LastIndexOfAny(new[] { '\\', '/' }) + 1).ToLowerInvariant();
            if (leaf != "powershell.exe" && leaf != "powershell")
            {
                // cmd.exe's message and ERRORLEVEL for an unknown command
                err.WriteLine($"'{prog}' is not recognized as an internal or external command,");
                err.WriteLine("operable program or batch file.");
                code = 9009;
                return null;
            }
            argv.RemoveAt(0);
            return argv.ToArray();
        }
    }
}
