// The part of n8n-workflow's node contract the nodes use, declared locally for the JSDoc types:
// n8n provides n8n-workflow at run time (a peer dependency). The tests run the nodes in the real
// engine (n8n-workflow 1.120.14 and n8n-core 1.122.28, a devDependency pair: the ones n8n 1.123.50
// ships; later 1.x releases pull in isolated-vm, a native addon that does not build on Node 20).
// Names and shapes follow n8n-workflow's `Interfaces.ts`.
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
export interface INode { name: string; type: string; onError?: 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput' }
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
