import ArgumentParser
import Engine
import Foundation
import Server
import Store
import Values

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API and the web pages, and run job workers, over the store.",
        discussion: """
            People log in with the passwords of the users file (procrun users add); other systems send \
            Authorization: Bearer TOKEN (procrun users token). SIGTERM or Ctrl-C drains: no new requests, \
            requests and worker passes in flight finish, then it exits 0. Several serve and worker processes \
            may share one store.
            """)

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var notify: NotifyOptions
    @Option(help: "The address to listen on.") var bind = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port, printed).") var port = 8080
    @Option(help: "JSON directory of users, groups and org units, kept with every instance started.")
    var directory: String?
    @Option(help: "The users file (default: .procrun/users.json, beside the default store).") var users: String?
    @Option(help: "Job workers in this process (0: none; run `procrun worker` elsewhere).") var workers = 1
    @Option(help: "Largest request body accepted, in bytes (larger: 413).") var maxBody = 1_048_576

    func run() async throws {
        guard (0...65535).contains(port) else {
            throw Inputs.fail([.error(at: nil, "--port \(port) is not a port (0 to 65535)")])
        }
        guard (0...64).contains(workers) else {
            throw Inputs.fail([.error(at: nil, "--workers \(workers) is not from 0 to 64")])
        }
        guard maxBody >= 1024 else { throw Inputs.fail([.error(at: nil, "--max-body must be at least 1024")]) }
        let directoryJSON = try directory.map { path throws(ExitWith) in try Inputs.readJSON(path) }
        if let directoryJSON, let directory {
            do {
                _ = try Directory(json: directoryJSON, file: directory)
            } catch {
                throw Inputs.fail([error])
            }
        }
        let usersPath = UsersCommand.path(users)
        do {
            _ = try UserFile.read(usersPath)
        } catch {
            throw Inputs.fail([error])
        }
        // Opened (created, migrated) once here, so that a store that cannot be opened is said at once.
        _ = try storeOptions.runner()
        let options = storeOptions
        let notify = notify
        try notify.configure(try options.runner(), userAgent: "procrun/\(procrunVersion)", timeZone: .current)
        let configuration = ServerConfiguration(
            bind: bind, port: port, workers: workers, maxBody: maxBody, directory: directoryJSON, usersPath: usersPath,
            makeRunner: {
                let runner = try options.runner()
                try notify.configure(runner, userAgent: "procrun/\(procrunVersion)", timeZone: runner.timeZone)
                return runner
            },
            onListening: { url in
                // Written straight to the file descriptor: a supervisor or test reading a pipe sees it at once.
                FileHandle.standardOutput.write(
                    Data("procrun serve: listening on \(url) (store \(options.path), users \(usersPath))\n".utf8))
            })
        try await ProcrunServer.run(configuration)
    }
}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the server's users file: people, roles, passwords and API tokens.",
        subcommands: [Add.self, Token.self, List.self])

    static func path(_ given: String?) -> String {
        given ?? ProcessInfo.processInfo.environment["PROCRUN_USERS"] ?? UserFile.defaultPath
    }

    static func read(_ given: String?) throws -> UserFile {
        do {
            return try UserFile.read(path(given))
        } catch {
            throw Inputs.fail([error])
        }
    }

    static func write(_ file: UserFile) throws {
        do {
            try file.write()
        } catch {
            throw Inputs.fail([.error(at: nil, "cannot write '\(file.path)': \(error.localizedDescription)")])
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user (or change one's password and roles).",
            discussion:
                "The password is asked for on a terminal, else read from the first line of stdin. Only its bcrypt hash is stored."
        )
        @Argument(help: "The user's id, as in the directory.") var id: String
        @Option(help: "A role: admin or user (repeat for both; default: user).") var role: [String] = []
        @Option(help: "The users file (default: $PROCRUN_USERS, else .procrun/users.json).") var users: String?

        func run() async throws {
            guard !id.isEmpty, !id.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw Inputs.fail([.error(at: nil, "a user id is one word")])
            }
            var roles: Set<ServerUser.Role> = []
            for name in role {
                guard let parsed = ServerUser.Role(rawValue: name) else {
                    throw Inputs.fail([.error(at: nil, "--role '\(name)' is not admin or user")])
                }
                roles.insert(parsed)
            }
            var file = try UsersCommand.read(users)
            let password = try Self.password()
            guard password.count >= 8 else {
                throw Inputs.fail([.error(at: nil, "a password has at least 8 characters")])
            }
            let existed = file.user(id) != nil
            file.set(id: id, roles: roles.isEmpty ? [.user] : roles, password: password)
            try UsersCommand.write(file)
            print(
                "\(existed ? "updated" : "added") \(id) (\((roles.isEmpty ? [.user] : roles).map(\.rawValue).sorted().joined(separator: ", "))) in \(file.path)"
            )
        }

        static func password() throws -> String {
            if isatty(STDIN_FILENO) == 1 {
                guard let first = getpass("Password: ").map({ String(cString: $0) }),
                    let second = getpass("Again: ").map({ String(cString: $0) })
                else { throw Inputs.fail([.error(at: nil, "no password given")]) }
                guard first == second else { throw Inputs.fail([.error(at: nil, "the passwords differ")]) }
                return first
            }
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw Inputs.fail([.error(at: nil, "no password on stdin")])
            }
            return line
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new API token for a user (Authorization: Bearer TOKEN); only its hash is stored.")
        @Argument(help: "The user's id.") var id: String
        @Option(help: "The users file (default: $PROCRUN_USERS, else .procrun/users.json).") var users: String?

        func run() async throws {
            var file = try UsersCommand.read(users)
            guard let token = file.newToken(for: id) else {
                throw Inputs.fail([.error(at: nil, "no user '\(id)' in \(file.path) (procrun users add \(id) first)")])
            }
            try UsersCommand.write(file)
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users and their roles.")
        @Option(help: "The users file (default: $PROCRUN_USERS, else .procrun/users.json).") var users: String?

        func run() async throws {
            let file = try UsersCommand.read(users)
            for user in file.users {
                print(
                    "\(user.id)  \(user.roles.map(\.rawValue).sorted().joined(separator: ","))  \(user.tokenHashes.count) token(s)"
                )
            }
        }
    }
}
