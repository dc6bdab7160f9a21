import ArgumentParser
import Foundation

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
            nothing ran; 3 the instance stopped in an incident; 4 the instance is waiting; 1 internal error.
            """,
        version: procrunVersion,
        subcommands: [
            RunCommand.self, ValidateCommand.self, InboxCommand.self, StartCommand.self, TasksCommand.self, CompleteCommand.self,
            InstancesCommand.self, ShowCommand.self, WorkerCommand.self, RetryCommand.self, SkipCommand.self, CancelCommand.self,
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
        } catch {
            let code = Procrun.exitCode(for: error)
            if code == .success || error is CleanExit { Procrun.exit(withError: error) }
            printError("procrun: error: \(error)")
            exit(Exit.internalError)
        }
        exit(Exit.completed)
    }
}
