import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const githubDir = join(__dirname, "..");

export interface Step {
    id?: string;
    name?: string;
    if?: string;
    uses?: string;
    run?: string;
    with?: Record<string, string | number | boolean>;
    env?: Record<string, string>;
}

export interface Concurrency {
    group: string;
    "cancel-in-progress"?: boolean | string;
    queue?: string;
}

export interface Job {
    uses?: string;
    needs?: string | string[];
    if?: string;
    "runs-on"?: string;
    "timeout-minutes"?: number;
    permissions?: Record<string, string>;
    environment?: string | { name: string; url?: string };
    concurrency?: string | Concurrency;
    services?: Record<string, { image: string }>;
    env?: Record<string, string>;
    steps?: Step[];
}

export interface Workflow {
    file: string;
    text: string;
    name: string;
    on: Record<string, Record<string, unknown> | null>;
    permissions?: Record<string, string>;
    concurrency?: Concurrency;
    jobs: Record<string, Job>;
}

export interface CompositeAction {
    file: string;
    text: string;
    runs: { using: string; steps: Step[] };
}

function yamlFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) return yamlFiles(path);
        return /\.ya?ml$/.test(entry.name) ? [path] : [];
    });
}

export function loadWorkflows(): Map<string, Workflow> {
    const dir = join(githubDir, "workflows");
    const workflows = new Map<string, Workflow>();
    for (const file of yamlFiles(dir)) {
        const text = readFileSync(file, "utf8");
        const workflow: Workflow = { file, text, ...parse(text) };
        workflows.set(file.slice(dir.length + 1).replace(/\.ya?ml$/, ""), workflow);
    }
    return workflows;
}

export function loadCompositeActions(): CompositeAction[] {
    return yamlFiles(join(githubDir, "actions")).map((file) => {
        const text = readFileSync(file, "utf8");
        return { file, text, ...parse(text) };
    });
}

export function stepsOf(job: Job): Step[] {
    return job.steps ?? [];
}

export function allSteps(workflows: Iterable<Workflow>, actions: CompositeAction[]): Step[] {
    const fromWorkflows = [...workflows].flatMap((w) => Object.values(w.jobs).flatMap(stepsOf));
    return [...fromWorkflows, ...actions.flatMap((a) => a.runs.steps)];
}

export function usesAction(step: Step, action: string): boolean {
    return step.uses?.split("@")[0] === action;
}

/** Each job of each workflow that runs steps of its own (not a reusable workflow), with its workflow. */
export function jobsOf(workflows: Iterable<Workflow>): { workflow: Workflow; id: string; job: Job }[] {
    return [...workflows].flatMap((workflow) =>
        Object.entries(workflow.jobs).map(([id, job]) => ({ workflow, id, job })),
    );
}

export function environmentName(job: Job): string | undefined {
    return typeof job.environment === "string" ? job.environment : job.environment?.name;
}
