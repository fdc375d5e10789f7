// An issued invoice as a mail: HTML and plain text (Handlebars templates; in the HTML every value
// from the event is escaped by `{{…}}`), and the invoice as a PDF to attach (pdfkit, the
// standard Helvetica font: nothing to embed, text drawn as data, never interpreted).
import Handlebars from 'handlebars';
import PDFDocument from 'pdfkit';
import { type IssuedInvoice, formatAmount, subjectOf } from './invoice-mailer-domain.js';

export interface RenderedInvoice {
  subject: string;
  html: string;
  text: string;
  pdf: Buffer;
  pdfName: string;
}

/** What the templates show: the invoice with its amounts already written out. */
function viewOf(invoice: IssuedInvoice) {
  const money = (amount: number) => formatAmount(amount, invoice.currency);
  return {
    invoiceId: invoice.invoiceId,
    contractId: invoice.contractId,
    period: invoice.period,
    customerName: invoice.customer.name,
    issuedOn: invoice.issuedAt.slice(0, 10),
    lines: invoice.lines.map((line) => ({
      label: line.label,
      kind: line.kind,
      quantity: line.quantity,
      unitPrice: money(line.unitPrice),
      amount: line.kind === 'refund' ? `-${money(line.amount)}` : money(line.amount),
    })),
    purchases: money(invoice.purchases),
    refunds: money(invoice.refunds),
    net: money(invoice.net),
    declined: invoice.declined.count > 0 ? { count: invoice.declined.count, amount: money(invoice.declined.amount) } : undefined,
  };
}

const templates = Handlebars.create();
const html = templates.compile<ReturnType<typeof viewOf>>(
  `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {{period}}</title></head>
<body style="font-family: Helvetica, Arial, sans-serif">
<h1>Invoice {{period}}</h1>
<p>Dear {{customerName}},</p>
<p>please find your invoice for {{period}} attached (PDF).</p>
<table>
<tr><td>Invoice</td><td>{{invoiceId}}</td></tr>
<tr><td>Contract</td><td>{{contractId}}</td></tr>
<tr><td>Issued</td><td>{{issuedOn}}</td></tr>
</table>
<table border="1" cellpadding="4" style="border-collapse: collapse">
<thead><tr><th>Item</th><th>Kind</th><th>Quantity</th><th>Unit price</th><th>Amount</th></tr></thead>
<tbody>
{{#each lines}}<tr><td>{{label}}</td><td>{{kind}}</td><td>{{quantity}}</td><td>{{unitPrice}}</td><td>{{amount}}</td></tr>
{{else}}<tr><td colspan="5">No purchases or refunds this period.</td></tr>
{{/each}}</tbody>
</table>
<p>Purchases: {{purchases}}<br>Refunds: {{refunds}}<br><strong>Net: {{net}}</strong></p>
{{#if declined}}<p>{{declined.count}} purchase(s) for {{declined.amount}} were declined by your bank and are not invoiced.</p>{{/if}}
<p>The amount is collected by direct debit under your contract's mandate.</p>
</body></html>
`,
  { strict: true },
);
const text = templates.compile<ReturnType<typeof viewOf>>(
  `Invoice {{period}}

Dear {{customerName}},

please find your invoice for {{period}} attached (PDF).

Invoice:  {{invoiceId}}
Contract: {{contractId}}
Issued:   {{issuedOn}}

{{#each lines}}- {{label}} ({{kind}}): {{quantity}} x {{unitPrice}} = {{amount}}
{{else}}No purchases or refunds this period.
{{/each}}
Purchases: {{purchases}}
Refunds:   {{refunds}}
Net:       {{net}}
{{#if declined}}
{{declined.count}} purchase(s) for {{declined.amount}} were declined by your bank and are not invoiced.
{{/if}}
The amount is collected by direct debit under your contract's mandate.
`,
  // Plain text is not HTML: nothing to escape (and `&` must stay `&`).
  { strict: true, noEscape: true },
);

export async function renderInvoice(invoice: IssuedInvoice): Promise<RenderedInvoice> {
  const view = viewOf(invoice);
  return {
    subject: subjectOf(invoice),
    html: html(view),
    text: text(view),
    pdf: await pdfOf(view),
    pdfName: `invoice-${invoice.period}-${invoice.invoiceId}.pdf`,
  };
}

function pdfOf(view: ReturnType<typeof viewOf>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // No creation date inside: the same invoice renders the same bytes on every attempt.
    const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: `Invoice ${view.period}`, Author: 'Payspec', CreationDate: new Date(`${view.issuedOn}T00:00:00Z`) } });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.font('Helvetica-Bold').fontSize(20).text(`Invoice ${view.period}`);
    doc.moveDown().font('Helvetica').fontSize(11);
    doc.text(`Customer: ${view.customerName}`);
    doc.text(`Invoice: ${view.invoiceId}`);
    doc.text(`Contract: ${view.contractId}`);
    doc.text(`Issued: ${view.issuedOn}`);
    doc.moveDown();
    if (view.lines.length === 0) doc.text('No purchases or refunds this period.');
    for (const line of view.lines) doc.text(`${line.label} (${line.kind}): ${line.quantity} x ${line.unitPrice} = ${line.amount}`);
    doc.moveDown();
    doc.text(`Purchases: ${view.purchases}`);
    doc.text(`Refunds: ${view.refunds}`);
    doc.font('Helvetica-Bold').text(`Net: ${view.net}`);
    if (view.declined) doc.font('Helvetica').moveDown().text(`${view.declined.count} purchase(s) for ${view.declined.amount} were declined by your bank and are not invoiced.`);
    doc.end();
  });
}
