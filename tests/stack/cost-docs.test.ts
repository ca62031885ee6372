// docs/cost.md shows npm run cost's own output for the default and the spot profile in every priced region, and the
// spot profile with an external database stays within the seed architecture's $167 a month.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { COST_DOC, DocumentedEstimate, costOutput, currentOutputs, documentedEstimates } from "../../scripts/cost-docs";
import { PRICES } from "../../cost/estimate";
import { PRE_STOP_SECONDS, TERMINATION_GRACE_SECONDS } from "../../workload";

const SEED_MONTHLY_ESTIMATE = 167;
const SPOT_INTERRUPTION_NOTICE_SECONDS = 120;
const SPOT = "nodeCapacityType=SPOT";

let estimates: DocumentedEstimate[];
let outputs: string[];

const isExternal = (documented: DocumentedEstimate): boolean =>
    documented.args.some((arg) => arg.startsWith("databaseUrl="));

function regionOf(args: string[]): string {
    return args.find((arg) => arg.startsWith("aws:region="))?.split("=")[1] ?? "ap-southeast-1";
}

function total(output: string): number {
    const match = /\| \*\*Total\*\* \| \| \| \*\*\$([\d.]+)\*\*/.exec(output);
    assert.ok(match, `a total in:\n${output}`);
    return Number(match[1]);
}

before(async () => {
    estimates = documentedEstimates(fs.readFileSync(COST_DOC, "utf8"));
    outputs = await currentOutputs(estimates);
});

describe("docs/cost.md (npm run cost's tables)", () => {
    test("shows the managed-database default, and the on-demand and spot profiles with an external database in every priced region", () => {
        assert.deepEqual(estimates[0].args, [], "the first table is plain npm run cost: the managed database");
        for (const region of Object.keys(PRICES.regions)) {
            const inRegion = estimates.filter(
                (documented) => regionOf(documented.args) === region && isExternal(documented),
            );
            assert.equal(
                inRegion.filter((documented) => !documented.args.includes(SPOT)).length,
                1,
                `default profile in ${region}`,
            );
            assert.equal(
                inRegion.filter((documented) => documented.args.includes(SPOT)).length,
                1,
                `spot profile in ${region}`,
            );
        }
    });
    test("every table is what the command prints today (npm run cost:docs rewrites them)", () => {
        estimates.forEach((documented, index) =>
            assert.equal(documented.documented, outputs[index], `npm run cost -- ${documented.args.join(" ")}`),
        );
    });
    test("spot nodes with an external database cost at most the seed's $167 a month, in every priced region", () => {
        const spot = estimates
            .map((documented, index) => ({ documented, output: outputs[index] }))
            .filter(({ documented }) => documented.args.includes(SPOT) && isExternal(documented));
        assert.ok(spot.length > 0);
        for (const { documented, output } of spot) {
            assert.ok(total(output) <= SEED_MONTHLY_ESTIMATE, `${regionOf(documented.args)}: $${total(output)}`);
        }
    });
    test("spot is cheaper than on-demand in each region", () => {
        for (const region of Object.keys(PRICES.regions)) {
            const [onDemand, spot] = [false, true].map((isSpot) =>
                total(
                    outputs[
                        estimates.findIndex(
                            (documented) =>
                                isExternal(documented) &&
                                regionOf(documented.args) === region &&
                                documented.args.includes(SPOT) === isSpot,
                        )
                    ],
                ),
            );
            assert.ok(spot < onDemand, `${region}: spot $${spot}, on-demand $${onDemand}`);
        }
    });
});

describe("README.md", () => {
    test("its monthly figures are the command's, rounded to the dollar: the default (managed database) and external ones", () => {
        const external = (isSpot: boolean): number =>
            total(
                outputs[
                    estimates.findIndex(
                        (documented) =>
                            regionOf(documented.args) === "ap-southeast-1" &&
                            documented.args.includes(SPOT) === isSpot &&
                            isExternal(documented),
                    )
                ],
            );
        const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8").replace(/\s+/g, " ");
        assert.match(
            readme,
            new RegExp(
                `About \\*\\*\\$${Math.round(total(outputs[0]))} a month\\*\\* in ap-southeast-1 as created by default`,
            ),
        );
        assert.match(
            readme,
            new RegExp(
                `about \\*\\*\\$${Math.round(external(false))} a month\\*\\* with two on-demand nodes, \\*\\*\\$${Math.round(external(true))}\\*\\* with spot nodes`,
            ),
        );
    });
});

describe("docs/cost.md on spot nodes", () => {
    test("a pod's whole shutdown fits in the two-minute interruption notice, with the figures the Deployment uses", () => {
        const doc = fs.readFileSync(COST_DOC, "utf8");
        assert.ok(TERMINATION_GRACE_SECONDS < SPOT_INTERRUPTION_NOTICE_SECONDS);
        assert.match(doc, new RegExp(`waits ${PRE_STOP_SECONDS} seconds \\(preStop\\)`));
        assert.match(doc, new RegExp(`the pod's ${TERMINATION_GRACE_SECONDS}-second grace period`));
    });
});

describe("npm run cost -- --json", () => {
    test("one object: region, lines with quantity, unit price and monthly cost, and both totals", async () => {
        const result = JSON.parse(
            await costOutput([
                "--json",
                "--config",
                "databaseUrl=postgresql://app@db.example.com:5432/app",
                "--config",
                "nodeMaxSize=5",
            ]),
        );
        assert.equal(result.region, "ap-southeast-1");
        assert.ok(result.lines.length > 0);
        for (const costLine of result.lines) {
            assert.deepEqual(
                ["item", "quantity", "unitPrice", "monthly"].map((key) => key in costLine),
                [true, true, true, true],
            );
        }
        const nodes = result.lines.find((costLine: { item: string }) => costLine.item.startsWith("Nodes:"));
        assert.equal(nodes.quantityAtMax, 5 * 730, "nodeMaxSize=5 reaches the estimate");
        assert.equal(typeof result.monthlyTotal, "number");
        assert.ok(result.monthlyTotalAtMax > result.monthlyTotal);
    });
});
