// Runs the Pulumi program offline under the test mocks and returns everything it declared; npm run synth and
// npm run cost read the stack from here.
import * as path from "path";
import { RecordedResource, installMocks, recorded, settled } from "./mocks";

/** `configure` sets the stack configuration (see setStackConfig); the program runs once per process. */
export async function renderProgram(configure: () => void): Promise<RecordedResource[]> {
    // Pulumi runs the program from the project directory.
    process.chdir(path.join(__dirname, "..", ".."));
    installMocks();
    configure();
    await import("../../index");
    await settled();
    return recorded;
}
