// The estimate cannot drift from the stack: every declared resource type is priced or listed as free, every cost line
// comes from a declared resource, and a region, instance type or resource type without a price is an error naming it.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FAKE_DATABASE_URL, RecordedResource, setStackConfig } from "./mocks";
import { declarations } from "../../project-config";
import {
    CostLine,
    Estimate,
    FREE_TYPES,
    InventoryResource,
    PRICED_TYPES,
    PRICES,
    PricingError,
    USAGE,
    estimate,
    isStructure,
} from "../../cost/estimate";
import { markdownReport } from "../../cost/report";
import { spotInstanceTypes } from "../../capacity";
import { UsageError, costRequest } from "../../scripts/cost";
import { renderProgram } from "../../scripts/lib/render";

const REGIONS = Object.keys(PRICES.regions);
let inventory: RecordedResource[];

before(async () => {
    inventory = [...(await renderProgram(() => setStackConfig()))];
});

const NODE_GROUP = "eks:index:ManagedNodeGroup";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";

function items(result: Estimate): string[] {
    return result.lines.map((costLine) => costLine.item);
}

function linesOf(result: Estimate, resource: string): CostLine[] {
    return result.lines.filter((costLine) => costLine.resource === resource);
}

/** The rendered inventory with one resource's inputs changed. */
function withInputs(
    type: string,
    change: (inputs: Record<string, unknown>) => Record<string, unknown>,
): InventoryResource[] {
    return inventory.map((resource) =>
        resource.type === type ? { ...resource, inputs: change(resource.inputs) } : resource,
    );
}

function assertPricingError(run: () => unknown, message: RegExp): void {
    assert.throws(run, (error: Error) => {
        assert.ok(error instanceof PricingError, `a PricingError, not ${error.name}: ${error.message}`);
        assert.match(error.message, message);
        return true;
    });
}

/** What the managed-database mode adds (database.ts): the instance and its free companions. */
function managedDatabase(overrides: Record<string, unknown> = {}): InventoryResource[] {
    return [
        {
            type: "aws:rds/instance:Instance",
            name: "fastapi-app-db",
            inputs: {
                identifier: "fastapi-app-db",
                engine: "postgres",
                instanceClass: "db.t4g.micro",
                allocatedStorage: 20,
                storageType: "gp3",
                multiAz: false,
                publiclyAccessible: false,
                enabledCloudwatchLogsExports: ["postgresql"],
                ...overrides,
            },
        },
        { type: "aws:rds/subnetGroup:SubnetGroup", name: "fastapi-app-db", inputs: {} },
        { type: "aws:rds/parameterGroup:ParameterGroup", name: "fastapi-app-db", inputs: {} },
        { type: "aws:ec2/securityGroup:SecurityGroup", name: "fastapi-app-db", inputs: {} },
        { type: "random:index/randomPassword:RandomPassword", name: "fastapi-app-db", inputs: {} },
    ];
}

function logGroup(name: string, retentionInDays?: number): InventoryResource {
    return { type: "aws:cloudwatch/logGroup:LogGroup", name: "control-plane-logs", inputs: { name, retentionInDays } };
}

describe("the estimate follows the rendered stack", () => {
    test("every declared resource type is priced or listed as free", () => {
        const unknown = [...new Set(inventory.map((resource) => resource.type))].filter(
            (type) => !isStructure(type) && !(type in PRICED_TYPES) && !(type in FREE_TYPES),
        );
        assert.deepEqual(unknown, []);
    });
    test("every cost line comes from a declared resource", () => {
        const declared = new Set(inventory.map((resource) => `${resource.type}::${resource.name}`));
        for (const region of REGIONS) {
            for (const costLine of estimate(inventory, region).lines) {
                assert.ok(
                    declared.has(costLine.resource),
                    `${costLine.item} comes from ${costLine.resource}, which the program did not declare`,
                );
            }
        }
    });
    test("the seed's recurring costs are all there: control plane, nodes, disks, addresses, load balancer, logs, registry, traffic", () => {
        assert.deepEqual(items(estimate(inventory, "ap-southeast-1")), [
            "EKS control plane (standard support)",
            "CloudWatch Logs ingestion, control-plane logs (api, audit, authenticator)",
            "CloudWatch Logs storage, control-plane logs (api, audit, authenticator), kept 30 days",
            "Nodes: 2 × t3.medium on-demand",
            "Node root volumes: 2 × 20 GB gp3",
            "Public IPv4 addresses of the nodes: 2",
            "Classic Load Balancer",
            "Load balancer data processed (50 GB assumed)",
            "Public IPv4 addresses of the load balancer: 2 (one per zone)",
            "Data transfer out to the internet (50 GB assumed)",
            "ECR storage: 10 images × 0.15 GB",
        ]);
    });
    test("node lines scale from the desired to the maximum size of the rendered node group", () => {
        const nodes = estimate(inventory, "ap-southeast-1").lines.find((costLine) =>
            costLine.item.startsWith("Nodes:"),
        );
        assert.ok(nodes);
        assert.deepEqual(
            [nodes.quantity, nodes.quantityAtMax, nodes.unitPrice],
            [2 * 730, 3 * 730, PRICES.regions["ap-southeast-1"].ec2InstanceHour["t3.medium"].usd],
        );
        assert.equal(nodes.monthly, 77.09);
    });
    test("totals are the sums of the lines, at desired and at maximum size", () => {
        const result = estimate(inventory, "us-east-1");
        const sum = (pick: (costLine: CostLine) => number): number =>
            Math.round(result.lines.reduce((acc, l) => acc + pick(l), 0) * 100) / 100;
        assert.equal(
            result.monthlyTotal,
            sum((costLine) => costLine.monthly),
        );
        assert.equal(
            result.monthlyTotalAtMax,
            sum((costLine) => costLine.monthlyAtMax),
        );
        assert.ok(result.monthlyTotalAtMax > result.monthlyTotal);
    });
    test("each priced region gives its own total", () => {
        const totals = REGIONS.map((region) => estimate(inventory, region).monthlyTotal);
        assert.equal(new Set(totals).size, REGIONS.length, totals.join(", "));
    });
    test("the Markdown table has a row per line and the totals", () => {
        const result = estimate(inventory, "eu-west-1");
        const table = markdownReport(result);
        assert.equal(
            table.split("\n").filter((row) => row.startsWith("| ") && !row.startsWith("| Item")).length,
            result.lines.length + 1,
        );
        assert.match(
            table,
            new RegExp(`\\| \\*\\*Total\\*\\* \\| \\| \\| \\*\\*\\$${result.monthlyTotal.toFixed(2)}\\*\\* \\|`),
        );
    });
});

describe("what has no price fails, naming it", () => {
    test("an unknown region", () =>
        assertPricingError(() => estimate(inventory, "us-west-2"), /no prices for region 'us-west-2'/));
    test("an instance type without a price", () =>
        assertPricingError(
            () =>
                estimate(
                    withInputs(NODE_GROUP, (inputs) => ({ ...inputs, instanceTypes: ["m7i.large"] })),
                    "ap-southeast-1",
                ),
            /no on-demand price for instance type 'm7i\.large' in ap-southeast-1/,
        ));
    test("a new resource type that is neither priced nor listed as free", () =>
        assertPricingError(
            () =>
                estimate(
                    [...inventory, { type: "aws:elasticache/cluster:Cluster", name: "cache", inputs: {} }],
                    "ap-southeast-1",
                ),
            /resource type aws:elasticache\/cluster:Cluster \(cache\) is neither priced nor listed as free/,
        ));
    test("a database class without a price", () =>
        assertPricingError(
            () => estimate([...inventory, ...managedDatabase({ instanceClass: "db.r6g.large" })], "us-east-1"),
            /no RDS for PostgreSQL price for instance class 'db\.r6g\.large' in us-east-1/,
        ));
    test("a load balancer type other than the classic one", () =>
        assertPricingError(
            () =>
                estimate(
                    inventory.map((resource) =>
                        resource.type === "kubernetes:core/v1:Service"
                            ? {
                                  ...resource,
                                  inputs: {
                                      ...resource.inputs,
                                      metadata: {
                                          annotations: { "service.beta.kubernetes.io/aws-load-balancer-type": "nlb" },
                                      },
                                  },
                              }
                            : resource,
                    ),
                    "ap-southeast-1",
                ),
            /asks for a 'nlb' load balancer/,
        ));
    test("a log group nothing is known to write to", () =>
        assertPricingError(
            () => estimate([...inventory, logGroup("/aws/lambda/other")], "ap-southeast-1"),
            /\/aws\/lambda\/other\): no declared resource is known to write to it/,
        ));
});

describe("lines appear exactly when their resources do", () => {
    test("managed database: instance hours and gp3 storage at the class's price, its log exported", () => {
        const result = estimate([...inventory, ...managedDatabase()], "ap-southeast-1");
        const prices = PRICES.regions["ap-southeast-1"];
        assert.deepEqual(
            linesOf(result, "aws:rds/instance:Instance::fastapi-app-db").map((l) => [l.item, l.quantity, l.unitPrice]),
            [
                [
                    "RDS for PostgreSQL: db.t4g.micro, Single-AZ",
                    730,
                    prices.rdsPostgresInstanceHour["db.t4g.micro"].usd,
                ],
                ["RDS storage: 20 GB gp3, Single-AZ", 20, prices.rdsGp3GbMonth.usd],
                [
                    "CloudWatch Logs ingestion, database postgresql log",
                    USAGE.databaseLogGbPerMonth.value,
                    prices.logsIngestionGb.usd,
                ],
                [
                    "CloudWatch Logs storage, database postgresql log, no retention: 12 months' worth",
                    12 * USAGE.databaseLogGbPerMonth.value,
                    prices.logsStorageGbMonth.usd,
                ],
            ],
        );
        assert.equal(result.monthlyTotal > estimate(inventory, "ap-southeast-1").monthlyTotal, true);
    });
    test("RDS-managed password: its Secrets Manager secret is priced", () => {
        const lines = linesOf(
            estimate([...inventory, ...managedDatabase({ manageMasterUserPassword: true })], "eu-west-1"),
            "aws:rds/instance:Instance::fastapi-app-db",
        );
        assert.deepEqual(
            lines.filter((l) => l.item.startsWith("Secrets Manager")).map((l) => [l.quantity, l.unit, l.monthly]),
            [[1, "month", 0.4]],
        );
    });
    test("a KMS key costs its monthly fee", () => {
        const result = estimate([...inventory, { type: "aws:kms/key:Key", name: "logs", inputs: {} }], "us-east-1");
        assert.deepEqual(
            linesOf(result, "aws:kms/key:Key::logs").map((l) => [l.item, l.monthly]),
            [["KMS customer managed key", 1]],
        );
    });
    test("Multi-AZ database: instance and storage twice", () => {
        const lines = linesOf(
            estimate([...inventory, ...managedDatabase({ multiAz: true })], "us-east-1"),
            "aws:rds/instance:Instance::fastapi-app-db",
        );
        assert.deepEqual(
            lines.slice(0, 2).map((l) => l.quantity),
            [2 * 730, 2 * 20],
        );
    });
    test("external database (today's render): no database line", () =>
        assert.deepEqual(
            estimate(inventory, "ap-southeast-1").lines.filter((l) => /RDS|database/.test(l.item)),
            [],
        ));
    test("the stack's control-plane log group: storage for its retention, on the log group", () => {
        const storage = estimate(inventory, "ap-southeast-1").lines.filter((l) =>
            l.item.startsWith("CloudWatch Logs storage"),
        );
        assert.deepEqual(
            storage.map((l) => [l.resource, l.item]),
            [
                [
                    "aws:cloudwatch/logGroup:LogGroup::fastapi-app-control-plane-logs",
                    "CloudWatch Logs storage, control-plane logs (api, audit, authenticator), kept 30 days",
                ],
            ],
        );
        assert.equal(storage[0].quantity, Math.round(((4.5 * 30) / (365 / 12)) * 100) / 100);
    });
    test("another retention changes the storage line", () => {
        const result = estimate(
            withInputs(LOG_GROUP, (inputs) => ({ ...inputs, retentionInDays: 365 })),
            "ap-southeast-1",
        );
        assert.deepEqual(
            result.lines.filter((l) => l.item.startsWith("CloudWatch Logs storage")).map((l) => [l.item, l.quantity]),
            [["CloudWatch Logs storage, control-plane logs (api, audit, authenticator), kept 365 days", 54]],
        );
    });
    test("without a log group of the stack's own, EKS's group keeps the logs forever: priced on the cluster", () => {
        const result = estimate(
            inventory.filter((resource) => resource.type !== LOG_GROUP),
            "ap-southeast-1",
        );
        assert.deepEqual(
            result.lines.filter((l) => l.item.startsWith("CloudWatch Logs storage")).map((l) => [l.resource, l.item]),
            [
                [
                    "eks:index:Cluster::fastapi-app",
                    "CloudWatch Logs storage, control-plane logs (api, audit, authenticator), no retention: 12 months' worth",
                ],
            ],
        );
    });
    test("a NAT gateway strategy adds gateways, their traffic and their addresses", () => {
        const result = estimate(
            withInputs("awsx:ec2:Vpc", (inputs) => ({ ...inputs, natGateways: { strategy: "OnePerAz" } })),
            "eu-west-1",
        );
        assert.deepEqual(
            linesOf(result, "awsx:ec2:Vpc::fastapi-app").map((l) => [l.item, l.quantity]),
            [
                ["NAT gateways: 2", 2 * 730],
                ["NAT gateway data processed (20 GB assumed)", 20],
                ["Public IPv4 addresses of the NAT gateways: 2", 2 * 730],
            ],
        );
    });
    test("spot nodes: priced at the dearest offered type, at the assumed saving", () => {
        const spot = withInputs(NODE_GROUP, (inputs) => ({
            ...inputs,
            capacityType: "SPOT",
            instanceTypes: ["t3.medium", "t3a.medium", "t2.medium"],
        }));
        const nodes = estimate(spot, "ap-southeast-1").lines.find((l) => l.item.startsWith("Nodes:"));
        const t2 = PRICES.regions["ap-southeast-1"].ec2InstanceHour["t2.medium"].usd;
        assert.ok(nodes);
        assert.equal(nodes.unitPrice, Math.round(t2 * (1 - USAGE.spotSavings.value) * 1e6) / 1e6);
        assert.match(nodes.item, /spot t3\.medium \/ t3a\.medium \/ t2\.medium \(dearest, 60 % below on-demand\)/);
    });
});

describe("the price and usage data", () => {
    test("every price has a positive amount, a source and the date it was recorded", () => {
        for (const [region, prices] of Object.entries(PRICES.regions)) {
            for (const [key, entry] of Object.entries(prices)) {
                const entries = "usd" in entry ? { [key]: entry } : entry;
                for (const [name, price] of Object.entries(
                    entries as Record<string, { usd: number; source: string; date: string }>,
                )) {
                    assert.ok(price.usd > 0, `${region} ${name}`);
                    assert.match(
                        price.source,
                        /^https:\/\/aws\.amazon\.com\/.+ - .{20,}/,
                        `${region} ${name}: the AWS page, then how the figure was checked`,
                    );
                    assert.match(price.date, /^\d{4}-\d{2}-\d{2}$/, `${region} ${name}`);
                }
            }
        }
    });
    test("every region prices the same items and instance types", () => {
        const shape = (region: string): string[] =>
            Object.entries(PRICES.regions[region])
                .flatMap(([key, entry]) =>
                    "usd" in entry ? [key] : Object.keys(entry).map((name) => `${key}.${name}`),
                )
                .sort();
        for (const region of REGIONS) {
            assert.deepEqual(shape(region), shape(REGIONS[0]), region);
        }
    });
    test("the spot profile can be priced in every region: each type offered for t3.medium has a price", () => {
        for (const region of REGIONS) {
            for (const type of spotInstanceTypes("t3.medium") ?? []) {
                assert.ok(type in PRICES.regions[region].ec2InstanceHour, `${type} in ${region}`);
            }
        }
    });
    test("every usage assumption says what it rests on", () => {
        for (const [key, assumption] of Object.entries(USAGE)) {
            assert.ok((assumption as { basis: string }).basis.length > 40, key);
        }
    });
});

describe("npm run cost's arguments and stack file", () => {
    function stackDirectory(yaml: string): string {
        const directory = fs.mkdtempSync(path.join(os.tmpdir(), "cost-stack-"));
        fs.writeFileSync(path.join(directory, "Pulumi.dev.yaml"), yaml);
        return directory;
    }
    const STACK = [
        "config:",
        "  aws:region: eu-west-1",
        "  fastapi-app:nodeMaxSize: 4",
        "  fastapi-app:availabilityZones:",
        "    - eu-west-1b",
        "    - eu-west-1c",
        "  fastapi-app:databaseUrl:",
        "    secure: v1:AAAAAAAAAAAAAAAA:encrypted",
        "",
    ].join("\n");

    test("the stack file's settings, lists as JSON, and an encrypted databaseUrl only marking the database external", () => {
        assert.deepEqual(costRequest([], stackDirectory(STACK)), {
            config: {
                "aws:region": "eu-west-1",
                "fastapi-app:nodeMaxSize": "4",
                "fastapi-app:availabilityZones": '["eu-west-1b","eu-west-1c"]',
                "fastapi-app:databaseUrl": FAKE_DATABASE_URL,
            },
            json: false,
        });
    });
    test("a stack file without aws:region takes Pulumi.yaml's value, as the CLI gives it", () =>
        assert.equal(
            costRequest([], stackDirectory("config:\n  fastapi-app:nodeMaxSize: 4\n")).config["aws:region"],
            declarations()["aws:region"].value,
        ));
    test("--config overrides, keys spelled as in pulumi config set; --json", () => {
        const request = costRequest(
            [
                "--config",
                "nodeCapacityType=SPOT",
                "--config",
                "aws:region=us-east-1",
                "--config",
                "nodeMaxSize=6",
                "--json",
            ],
            stackDirectory(STACK),
        );
        assert.equal(request.config["fastapi-app:nodeCapacityType"], "SPOT");
        assert.equal(request.config["aws:region"], "us-east-1");
        assert.equal(request.config["fastapi-app:nodeMaxSize"], "6");
        assert.equal(request.json, true);
    });
    test("another secret in the stack file: refused, naming it and the override that replaces it", () =>
        assert.throws(
            () => costRequest([], stackDirectory(`${STACK}  fastapi-app:apiToken:\n    secure: v1:BBBB\n`)),
            (error: Error) =>
                error instanceof UsageError &&
                /fastapi-app:apiToken is a secret in Pulumi\.dev\.yaml; .*--config fastapi-app:apiToken=/.test(
                    error.message,
                ),
        ));
    test("that secret given with --config, as the message says: estimated", () =>
        assert.equal(
            costRequest(
                ["--config", "fastapi-app:apiToken=stand-in"],
                stackDirectory(`${STACK}  fastapi-app:apiToken:\n    secure: v1:BBBB\n`),
            ).config["fastapi-app:apiToken"],
            "stand-in",
        ));
    test("the service's tokens, which cannot change the bill, are left out: the stack's own stand-ins are priced", () => {
        const tokens = `${STACK}  fastapi-app:apiTokens:\n    secure: v1:CCCC\n  fastapi-app:metricsTokens:\n    secure: v1:DDDD\n`;
        const config = costRequest([], stackDirectory(tokens)).config;
        assert.deepEqual(
            ["fastapi-app:apiTokens", "fastapi-app:metricsTokens"].filter((key) => key in config),
            [],
        );
    });
    test("a stack without its file, and arguments it does not know, are usage errors", () => {
        assert.throws(
            () => costRequest(["--stack", "prod"], stackDirectory(STACK)),
            /no Pulumi\.prod\.yaml: create the stack \(pulumi stack init prod\)/,
        );
        assert.throws(
            () => costRequest(["--config", "nodeMaxSize"], stackDirectory(STACK)),
            /--config takes KEY=VALUE, got 'nodeMaxSize'/,
        );
        assert.throws(
            () => costRequest(["--region", "us-east-1"], stackDirectory(STACK)),
            /unexpected argument '--region'/,
        );
    });
});
