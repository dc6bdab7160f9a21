import ArgumentParser
import Foundation
import Store

/// Exit codes, documented in the README.
enum Exit {
    /// The instance reached an end event (whatever the path), or validation passed.
    static let completed: Int32 = 0
    /// Internal error.
    static let internalError: Int32 = 1
    /// Invalid input (file, XML, model, context, flags); nothing ran.
    static let invalidInput: Int32 = 2
    /// The instance stopped in an incident.
    static let incident: Int32 = 3
    /// The instance is waiting.
    static let waiting: Int32 = 4
    /// Conflict: the task or instance is not in the state the command needs (another command got
    /// there first: the task is already completed, the instance no longer in an incident). Nothing changed.
    static let conflict: Int32 = 5
    /// The store could not be opened, read or written (disk full, I/O error, read-only, locked for
    /// too long, a state that cannot be decoded). Nothing of the step was committed.
    static let storeUnavailable: Int32 = 6
}

/// Raised by commands to end the process with a code after printing what they had to say.
struct ExitWith: Error {
    var code: Int32
}

let procrunVersion = "0.1.0"

struct Procrun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "procrun",
        abstract: "Run BPMN 2.0 processes: load, validate and simulate instances, with ELMA365-style webhooks.",
        discussion: """
            Exit codes: 0 the instance reached an end event (or the files are valid); 2 invalid input and \
            nothing ran; 3 the instance stopped in an incident; 4 the instance is waiting; 5 conflict: the task or \
            instance is no longer in the state the command needs, nothing changed; 6 the store could not be \
            read or written, nothing of the step was committed; 1 internal error.
            """,
        version: procrunVersion,
        subcommands: [
            RunCommand.self, ValidateCommand.self, InboxCommand.self, StartCommand.self, TasksCommand.self,
            CompleteCommand.self,
            InstancesCommand.self, ShowCommand.self, WorkerCommand.self, RetryCommand.self, SkipCommand.self,
            CancelCommand.self,
            CheckCommand.self, NotificationsCommand.self, DeployCommand.self, MessageCommand.self, TestCommand.self,
            RenderCommand.self, ServeCommand.self, UsersCommand.self,
        ],
        defaultSubcommand: RunCommand.self
    )
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

@main
enum Main {
    static func main() async {
        // A parent (a test runner, a supervisor) may have left signals blocked; procrun wants the
        // default behaviour, so that SIGTERM and Ctrl-C stop it.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        // A file-size limit (`ulimit -f`) makes writes fail with EFBIG, which the store reports,
        // instead of killing the process mid-commit.
        signal(SIGXFSZ, SIG_IGN)
        // Swift repairs invalid UTF-8 in arguments with U+FFFD; procrun refuses it instead, as it
        // refuses invalid UTF-8 in files.
        for index in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[index], String(validatingCString: raw) == nil else { continue }
            printError("procrun: error: argument \(index) ('\(String(cString: raw))') is not valid UTF-8")
            exit(Exit.invalidInput)
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        var command: any ParsableCommand
        do {
            command = try Procrun.parseAsRoot(arguments)
        } catch {
            let code = Procrun.exitCode(for: error)
            if code == .success { Procrun.exit(withError: error) }
            // Usage errors are invalid input: exit 2, one line where the parser allows it.
            let message = Procrun.message(for: error)
            printError("procrun: error: " + message.split(whereSeparator: \.isNewline).joined(separator: " "))
            exit(Exit.invalidInput)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exitWith as ExitWith {
            exit(exitWith.code)
        } catch let error as StoreError {
            printError("procrun: error: \(error.message)")
            exit(error.kind.exitCode)
        } catch {
            let code = Procrun.exitCode(for: error)
            if code == .success || error is CleanExit { Procrun.exit(withError: error) }
            printError("procrun: error: \(error)")
            exit(Exit.internalError)
        }
        exit(Exit.completed)
    }
}
