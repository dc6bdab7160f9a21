import BPMNLoader
import Foundation
import ProcessModel
import Values

func load(_ xml: String, file: String = "t.bpmn") -> LoadResult {
    BPMNLoader.load(bytes: Array(xml.utf8), file: file)
}

/// A BPMN document with one process in the default namespace; `body` starts on line 4.
func document(_ body: String, executable: Bool = true, id: String = "P") -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
    <process id="\(id)" isExecutable="\(executable)">
    \(body)
    </process>
    </definitions>
    """
}

extension LoadResult {
    var lines: [String] { diagnostics.map(\.description) }
    var process: ProcessDefinition? { definitions?.processes.first }
}

/// The MIWG reference files kept in the repository (Tests/ProcrunCLITests/Fixtures/miwg).
let miwgFolder: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("ProcrunCLITests/Fixtures/miwg")
