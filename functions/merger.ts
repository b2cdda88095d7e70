// Placeholder so the CDK app synthesises before the real handler lands; replace freely.
export const handler = async (): Promise<void> => {};
