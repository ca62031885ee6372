// The policy pack's entry point: constructing the PolicyPack starts serving the engine, so only this file does it.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("fastapi-app-lifecycle", { policies });
