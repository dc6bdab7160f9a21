import Foundation

#if FUZZING
    // Built by Fuzz/run.sh with `-sanitize=fuzzer` and `-D FUZZING`: libFuzzer supplies `main` and
    // calls this function once per input. PROCRUN_FUZZ_TARGET names the target (see FuzzTarget).

    let selectedTarget: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["PROCRUN_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("set PROCRUN_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(2)
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
        selectedTarget.run(bytes)
        return 0
    }

    typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    typealias RunDriver =
        @convention(c) (
            UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
            TestOneInput
        ) -> CInt

    /// SwiftPM links every executable with `main` bound to `<module>_main` (so that tests can import
    /// executable modules), which shadows libFuzzer's own `main`. This is that entry point: it hands
    /// over to libFuzzer's driver, which the `-sanitize=fuzzer` link brings in.
    @_cdecl("procrun_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver") else {
            FileHandle.standardError.write(
                Data("procrun-fuzz: libFuzzer is not linked in (build with Fuzz/run.sh)\n".utf8))
            return 2
        }
        let runDriver = unsafeBitCast(symbol, to: RunDriver.self)
        var count = argc
        var arguments = argv
        return runDriver(&count, &arguments, fuzzOneInput)
    }

#else
    // A plain build (`swift build`) has no libFuzzer: the same targets replay saved inputs instead,
    // e.g. a crash file from .build-fuzz/artifacts or the whole seed corpus:
    //     swift run procrun-fuzz json Fuzz/corpus/json
    @main
    enum Replay {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
                let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
                print("usage: procrun-fuzz \(names) FILE_OR_FOLDER...")
                exit(2)
            }
            var count = 0
            for path in arguments.dropFirst() {
                for file in files(at: path) {
                    guard let data = FileManager.default.contents(atPath: file) else {
                        print("\(file): cannot read file")
                        exit(2)
                    }
                    print("\(target.rawValue): \(file)")
                    target.run([UInt8](data))
                    count += 1
                }
            }
            print("\(target.rawValue): \(count) input(s), no crash")
        }

        static func files(at path: String) -> [String] {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                return [path]
            }
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
            return names.sorted().map { path + "/" + $0 }.filter {
                var folder: ObjCBool = false
                return FileManager.default.fileExists(atPath: $0, isDirectory: &folder) && !folder.boolValue
            }
        }
    }
#endif
