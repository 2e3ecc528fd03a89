// The part of n8n-workflow's node contract this node uses, declared locally: the real package
// (1.120 and 2.x) pulls in isolated-vm, a native addon that does not build on Node 20 here, and
// n8n provides it at run time anyway (it is a peer dependency). Names and shapes follow
// n8n-workflow's `Interfaces.ts`.
export interface IDataObject { [key: string]: unknown }
export interface INodeExecutionData { json: IDataObject; pairedItem?: { item: number } }
export interface INodePropertyOptions { name: string; value: string; description?: string; action?: string }
export interface INodeProperties {
  displayName: string; name: string; type: 'options' | 'string' | 'json' | 'boolean';
  default: unknown; description?: string; noDataExpression?: boolean; options?: INodePropertyOptions[];
}
export interface INodeTypeDescription {
  displayName: string; name: string; icon?: string; group: string[]; version: number;
  subtitle?: string; description: string; defaults: { name: string };
  inputs: string[]; outputs: string[]; properties: INodeProperties[];
}
export interface INode { name: string; type: string }
export interface IExecuteFunctions {
  getInputData(): INodeExecutionData[];
  getNodeParameter(name: string, itemIndex: number, fallback?: unknown): unknown;
  continueOnFail(): boolean;
  getNode(): INode;
}
export interface INodeType {
  description: INodeTypeDescription;
  execute?(this: IExecuteFunctions): Promise<INodeExecutionData[][]>;
}
