// The whole program without its one required setting: it must stop and say how to set it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { installMocks, recorded, setStackConfig } from "./mocks";

installMocks();
setStackConfig({}, false);

test("without databaseUrl the program stops with the exact command to set it, before declaring anything", async () => {
    await assert.rejects(import("../../index"), (error: Error) => {
        assert.match(error.message, /pulumi config set --secret databaseUrl postgresql:\/\//);
        return true;
    });
    assert.equal(recorded.length, 0);
});
