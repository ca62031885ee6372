import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, it } from "node:test";

import { parse } from "yaml";

const REPO = join(__dirname, "..", "..");

interface Healthcheck {
    test?: string[];
    disable?: boolean;
}

interface Service {
    image?: string;
    build?: string;
    command?: string[];
    ports?: string[];
    volumes?: string[];
    environment?: Record<string, string>;
    depends_on?: Record<string, { condition: string }>;
    healthcheck?: Healthcheck;
    read_only?: boolean;
    tmpfs?: string[];
    restart?: string;
    user?: string;
    cap_drop?: string[];
    cap_add?: string[];
    security_opt?: string[];
}

interface ComposeFile {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
}

function readYaml<T>(...path: string[]): T {
    return parse(readFileSync(join(REPO, ...path), "utf8")) as T;
}

const compose = readYaml<ComposeFile>("docker-compose.yml");
const { services } = compose;

function service(name: string): Service {
    const found = services[name];
    assert.ok(found, `no service ${name}`);
    return found;
}

/** Bind mounts of a service as container path -> { source, readOnly }. */
function mounts(name: string): Map<string, { source: string; readOnly: boolean }> {
    return new Map(
        (service(name).volumes ?? []).map((volume) => {
            const [source, target, mode] = volume.split(":");
            return [target, { source, readOnly: mode === "ro" }];
        }),
    );
}

/** The services a service needs, directly or through the services it depends on. */
function dependencies(name: string): Set<string> {
    const found = new Set<string>();
    const visit = (current: string) => {
        for (const dependency of Object.keys(service(current).depends_on ?? {})) {
            if (!found.has(dependency)) {
                found.add(dependency);
                visit(dependency);
            }
        }
    };
    visit(name);
    return found;
}

describe("docker-compose.yml", () => {
    it("defines the database, the migration, the service, Prometheus and Grafana", () => {
        assert.deepEqual(Object.keys(services).sort(), ["db", "fastapi", "grafana", "migrate", "prometheus"]);
    });

    it("pins every image to an exact version, never latest", () => {
        const images = Object.entries(services).filter(([, definition]) => definition.image !== undefined);
        assert.deepEqual(images.map(([name]) => name).sort(), ["db", "grafana", "prometheus"]);
        for (const [name, { image }] of images) {
            assert.match(
                image ?? "",
                /^[a-z0-9./-]+:v?\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$/,
                `${name} image ${image} has no version tag`,
            );
            assert.doesNotMatch(image ?? "", /latest/, `${name} image ${image}`);
        }
        assert.match(service("prometheus").image ?? "", /^prom\/prometheus:/);
        assert.match(service("grafana").image ?? "", /^grafana\/grafana:/);
        assert.match(service("db").image ?? "", /^postgres:/);
    });

    it("builds the service and its migration from app/", () => {
        assert.equal(service("fastapi").build, "./app");
        assert.equal(service("migrate").build, "./app");
        assert.ok(existsSync(join(REPO, "app")));
    });

    it("publishes the seed's ports on the loopback interface only", () => {
        assert.deepEqual(service("fastapi").ports, ["127.0.0.1:8000:8000"]);
        assert.deepEqual(service("prometheus").ports, ["127.0.0.1:9090:9090"]);
        assert.deepEqual(service("grafana").ports, ["127.0.0.1:3001:3000"]);
        assert.equal(service("db").ports, undefined, "the database is reachable only inside the compose network");
    });

    it("keeps data in named volumes", () => {
        assert.deepEqual(Object.keys(compose.volumes).sort(), ["grafana_data", "postgres_data", "prometheus_data"]);
        assert.equal(mounts("db").get("/var/lib/postgresql/data")?.source, "postgres_data");
        assert.equal(mounts("prometheus").get("/prometheus")?.source, "prometheus_data");
        assert.equal(mounts("grafana").get("/var/lib/grafana")?.source, "grafana_data");
    });

    it("checks the health of every long-running service with a tool its image has", () => {
        assert.deepEqual(service("db").healthcheck?.test?.slice(0, 2), ["CMD", "pg_isready"]);
        const fastapiCheck = service("fastapi").healthcheck?.test ?? [];
        assert.deepEqual(fastapiCheck.slice(0, 2), ["CMD", "python"], "the slim Python image has no curl");
        assert.match(fastapiCheck.join(" "), /http:\/\/127\.0\.0\.1:8000\/health/);
        assert.match((service("prometheus").healthcheck?.test ?? []).join(" "), /wget .*:9090\/-\/ready/);
        assert.match((service("grafana").healthcheck?.test ?? []).join(" "), /wget .*:3000\/api\/health/);
    });

    it("migrates once, after the database is healthy, before the service starts", () => {
        const migrate = service("migrate");
        assert.deepEqual(migrate.command, ["alembic", "upgrade", "head"]);
        assert.equal(migrate.restart, "no");
        assert.deepEqual(
            migrate.healthcheck,
            { disable: true },
            "the image's HTTP health check does not apply to a migration",
        );
        assert.deepEqual(migrate.depends_on, { db: { condition: "service_healthy" } });
        assert.deepEqual(service("fastapi").depends_on, {
            db: { condition: "service_healthy" },
            migrate: { condition: "service_completed_successfully" },
        });
    });

    it("runs the service and its migration on a read-only root filesystem with a writable /tmp", () => {
        for (const name of ["fastapi", "migrate"]) {
            assert.equal(service(name).read_only, true, name);
            assert.deepEqual(service(name).tmpfs, ["/tmp"], name);
        }
    });

    it("points the service at the compose database", () => {
        for (const name of ["fastapi", "migrate"]) {
            assert.match(
                service(name).environment?.DATABASE_URL ?? "",
                /^postgresql:\/\/fastapi:\$\{POSTGRES_PASSWORD:-[^}]+\}@db:5432\/fastapi$/,
            );
        }
        assert.equal(
            service("db").environment?.POSTGRES_PASSWORD,
            service("fastapi").environment?.DATABASE_URL.match(/(\$\{[^}]+\})/)?.[1],
        );
    });

    it("lets `docker compose up -d prometheus grafana` monitor EKS without the local service", () => {
        for (const name of ["prometheus", "grafana"]) {
            const needed = dependencies(name);
            for (const local of ["fastapi", "migrate", "db"]) {
                assert.ok(!needed.has(local), `${name} depends on ${local}`);
            }
        }
    });

    it("lets Prometheus read the 0600 secret files a host user wrote, with DAC_OVERRIDE as its only capability", () => {
        const prometheus = service("prometheus");
        assert.equal(prometheus.user, "root", "the image's nobody cannot read another uid's 0600 files");
        assert.deepEqual(prometheus.cap_drop, ["ALL"]);
        assert.deepEqual(prometheus.cap_add, ["DAC_OVERRIDE"]);
        assert.deepEqual(prometheus.security_opt, ["no-new-privileges:true"]);
    });
    it("mounts Prometheus's config, rules and targets read-only where prometheus.yml looks for them", () => {
        const config = readYaml<{
            rule_files: string[];
            scrape_configs: {
                file_sd_configs?: { files: string[] }[];
                kubernetes_sd_configs?: { kubeconfig_file: string }[];
                authorization?: { credentials_file: string };
                tls_config?: { ca_file: string };
            }[];
        }>("monitoring", "prometheus.yml");
        const prometheus = mounts("prometheus");
        const configFlag = (service("prometheus").command ?? []).find((flag) => flag.startsWith("--config.file="));
        const configPath = configFlag?.split("=")[1] ?? "";
        assert.deepEqual(prometheus.get(configPath), { source: "./monitoring/prometheus.yml", readOnly: true });

        const configDir = posix.dirname(configPath);
        const globs = [
            ...config.rule_files,
            ...config.scrape_configs.flatMap((scrape) => (scrape.file_sd_configs ?? []).flatMap((sd) => sd.files)),
            ...config.scrape_configs.flatMap((scrape) =>
                (scrape.kubernetes_sd_configs ?? []).map((sd) => sd.kubeconfig_file),
            ),
            ...config.scrape_configs.flatMap((scrape) =>
                scrape.authorization ? [scrape.authorization.credentials_file] : [],
            ),
            ...config.scrape_configs.flatMap((scrape) => (scrape.tls_config ? [scrape.tls_config.ca_file] : [])),
        ];
        assert.deepEqual(globs, [
            "rules/*.yml",
            "targets/*.json",
            "targets/local/*.json",
            "secrets/kubernetes/kubeconfig",
            "secrets/kubernetes/token",
            "secrets/metrics-token",
            "secrets/kubernetes/ca.crt",
        ]);
        for (const glob of globs) {
            // Each file lives in (a subdirectory of) a mounted directory: a single-file mount would miss renames.
            const top = glob.split("/")[0];
            const mount = prometheus.get(posix.join(configDir, top));
            assert.ok(mount, `${posix.join(configDir, top)} is not mounted`);
            assert.equal(mount.readOnly, true, top);
            assert.equal(mount.source, `./monitoring/${top}`);
        }
    });

    it("has Prometheus scrape the compose service through the committed local target", () => {
        const local = JSON.parse(readFileSync(join(REPO, "monitoring", "targets", "local", "local.json"), "utf8")) as {
            targets: string[];
            labels: Record<string, string>;
        }[];
        const containerPort = (service("fastapi").ports ?? [])[0]?.split(":").at(-1);
        assert.deepEqual(
            local.map((group) => group.targets),
            [[`fastapi:${containerPort}`]],
        );
        assert.equal(local[0].labels.environment, "local");
    });

    it("provisions Grafana's datasource and dashboards from mounted, read-only directories", () => {
        const grafana = mounts("grafana");
        assert.deepEqual(grafana.get("/etc/grafana/provisioning"), {
            source: "./monitoring/grafana/provisioning",
            readOnly: true,
        });
        const provider = readYaml<{ providers: { options: { path: string } }[] }>(
            "monitoring",
            "grafana",
            "provisioning",
            "dashboards",
            "fastapi-app.yml",
        ).providers[0];
        assert.deepEqual(grafana.get(provider.options.path), {
            source: "./monitoring/grafana/dashboards",
            readOnly: true,
        });
        const home = service("grafana").environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? "";
        assert.equal(posix.dirname(home), provider.options.path);
        assert.ok(existsSync(join(REPO, "monitoring", "grafana", "dashboards", posix.basename(home))), home);

        const datasource = readYaml<{ datasources: { url: string }[] }>(
            "monitoring",
            "grafana",
            "provisioning",
            "datasources",
            "prometheus.yml",
        ).datasources[0];
        assert.equal(
            datasource.url,
            "http://prometheus:9090",
            "Grafana reaches Prometheus by its compose service name",
        );
    });

    it("takes Grafana's admin password from the environment, with admin only as the local default", () => {
        assert.equal(service("grafana").environment?.GF_SECURITY_ADMIN_PASSWORD, "${GRAFANA_ADMIN_PASSWORD:-admin}");
        assert.equal(service("grafana").environment?.GF_USERS_ALLOW_SIGN_UP, "false");
    });

    it("mounts only paths that exist in the repository", () => {
        for (const [name, definition] of Object.entries(services)) {
            for (const volume of definition.volumes ?? []) {
                const source = volume.split(":")[0];
                if (source.startsWith("./")) {
                    assert.ok(existsSync(join(REPO, source)), `${name} mounts missing ${source}`);
                }
            }
        }
    });
});
