import * as path from "path";
import { RecordedResource, installMocks, recorded, settled } from "./mocks";

/** The program rendered under the mocks (synth, cost), once per process: it is a module. */
export async function renderProgram(configure: () => void): Promise<RecordedResource[]> {
    // Pulumi runs the program from the project directory.
    process.chdir(path.join(__dirname, "..", ".."));
    installMocks();
    configure();
    await import("../../index");
    await settled();
    return recorded;
}
