// ntnu_library counter panel, built by scripts/build-panel from frontend/ (sources 33281222048d7b67). Lit: BSD-3-Clause.
var kt=Object.defineProperty;var At=(o,t,e)=>t in o?kt(o,t,{enumerable:!0,configurable:!0,writable:!0,value:e}):o[t]=e;var j=(o,t,e)=>At(o,typeof t!="symbol"?t+"":t,e);var O=globalThis,H=O.ShadowRoot&&(O.ShadyCSS===void 0||O.ShadyCSS.nativeShadow)&&"adoptedStyleSheets"in Document.prototype&&"replace"in CSSStyleSheet.prototype,I=Symbol(),nt=new WeakMap,z=class{constructor(t,e,s){if(this._$cssResult$=!0,s!==I)throw Error("CSSResult is not constructable. Use `unsafeCSS` or `css` instead.");this.cssText=t,this.t=e}get styleSheet(){let t=this.o,e=this.t;if(H&&t===void 0){let s=e!==void 0&&e.length===1;s&&(t=nt.get(e)),t===void 0&&((this.o=t=new CSSStyleSheet).replaceSync(this.cssText),s&&nt.set(e,t))}return t}toString(){return this.cssText}},ot=o=>new z(typeof o=="string"?o:o+"",void 0,I),W=(o,...t)=>{let e=o.length===1?o[0]:t.reduce((s,n,i)=>s+(a=>{if(a._$cssResult$===!0)return a.cssText;if(typeof a=="number")return a;throw Error("Value passed to 'css' function must be a 'css' function result: "+a+". Use 'unsafeCSS' to pass non-literal values, but take care to ensure page security.")})(n)+o[i+1],o[0]);return new z(e,o,I)},it=(o,t)=>{if(H)o.adoptedStyleSheets=t.map(e=>e instanceof CSSStyleSheet?e:e.styleSheet);else for(let e of t){let s=document.createElement("style"),n=O.litNonce;n!==void 0&&s.setAttribute("nonce",n),s.textContent=e.cssText,o.appendChild(s)}},K=H?o=>o:o=>o instanceof CSSStyleSheet?(t=>{let e="";for(let s of t.cssRules)e+=s.cssText;return ot(e)})(o):o;var{is:wt,defineProperty:St,getOwnPropertyDescriptor:Et,getOwnPropertyNames:zt,getOwnPropertySymbols:Ct,getPrototypeOf:Pt}=Object,D=globalThis,rt=D.trustedTypes,Ut=rt?rt.emptyScript:"",Rt=D.reactiveElementPolyfillSupport,C=(o,t)=>o,F={toAttribute(o,t){switch(t){case Boolean:o=o?Ut:null;break;case Object:case Array:o=o==null?o:JSON.stringify(o)}return o},fromAttribute(o,t){let e=o;switch(t){case Boolean:e=o!==null;break;case Number:e=o===null?null:Number(o);break;case Object:case Array:try{e=JSON.parse(o)}catch{e=null}}return e}},lt=(o,t)=>!wt(o,t),at={attribute:!0,type:String,converter:F,reflect:!1,useDefault:!1,hasChanged:lt};Symbol.metadata??=Symbol("metadata"),D.litPropertyMetadata??=new WeakMap;var m=class extends HTMLElement{static addInitializer(t){this._$Ei(),(this.l??=[]).push(t)}static get observedAttributes(){return this.finalize(),this._$Eh&&[...this._$Eh.keys()]}static createProperty(t,e=at){if(e.state&&(e.attribute=!1),this._$Ei(),this.prototype.hasOwnProperty(t)&&((e=Object.create(e)).wrapped=!0),this.elementProperties.set(t,e),!e.noAccessor){let s=Symbol(),n=this.getPropertyDescriptor(t,s,e);n!==void 0&&St(this.prototype,t,n)}}static getPropertyDescriptor(t,e,s){let{get:n,set:i}=Et(this.prototype,t)??{get(){return this[e]},set(a){this[e]=a}};return{get:n,set(a){let h=n?.call(this);i?.call(this,a),this.requestUpdate(t,h,s)},configurable:!0,enumerable:!0}}static getPropertyOptions(t){return this.elementProperties.get(t)??at}static _$Ei(){if(this.hasOwnProperty(C("elementProperties")))return;let t=Pt(this);t.finalize(),t.l!==void 0&&(this.l=[...t.l]),this.elementProperties=new Map(t.elementProperties)}static finalize(){if(this.hasOwnProperty(C("finalized")))return;if(this.finalized=!0,this._$Ei(),this.hasOwnProperty(C("properties"))){let e=this.properties,s=[...zt(e),...Ct(e)];for(let n of s)this.createProperty(n,e[n])}let t=this[Symbol.metadata];if(t!==null){let e=litPropertyMetadata.get(t);if(e!==void 0)for(let[s,n]of e)this.elementProperties.set(s,n)}this._$Eh=new Map;for(let[e,s]of this.elementProperties){let n=this._$Eu(e,s);n!==void 0&&this._$Eh.set(n,e)}this.elementStyles=this.finalizeStyles(this.styles)}static finalizeStyles(t){let e=[];if(Array.isArray(t)){let s=new Set(t.flat(1/0).reverse());for(let n of s)e.unshift(K(n))}else t!==void 0&&e.push(K(t));return e}static _$Eu(t,e){let s=e.attribute;return s===!1?void 0:typeof s=="string"?s:typeof t=="string"?t.toLowerCase():void 0}constructor(){super(),this._$Ep=void 0,this.isUpdatePending=!1,this.hasUpdated=!1,this._$Em=null,this._$Ev()}_$Ev(){this._$ES=new Promise(t=>this.enableUpdating=t),this._$AL=new Map,this._$E_(),this.requestUpdate(),this.constructor.l?.forEach(t=>t(this))}addController(t){(this._$EO??=new Set).add(t),this.renderRoot!==void 0&&this.isConnected&&t.hostConnected?.()}removeController(t){this._$EO?.delete(t)}_$E_(){let t=new Map,e=this.constructor.elementProperties;for(let s of e.keys())this.hasOwnProperty(s)&&(t.set(s,this[s]),delete this[s]);t.size>0&&(this._$Ep=t)}createRenderRoot(){let t=this.shadowRoot??this.attachShadow(this.constructor.shadowRootOptions);return it(t,this.constructor.elementStyles),t}connectedCallback(){this.renderRoot??=this.createRenderRoot(),this.enableUpdating(!0),this._$EO?.forEach(t=>t.hostConnected?.())}enableUpdating(t){}disconnectedCallback(){this._$EO?.forEach(t=>t.hostDisconnected?.())}attributeChangedCallback(t,e,s){this._$AK(t,s)}_$ET(t,e){let s=this.constructor.elementProperties.get(t),n=this.constructor._$Eu(t,s);if(n!==void 0&&s.reflect===!0){let i=(s.converter?.toAttribute!==void 0?s.converter:F).toAttribute(e,s.type);this._$Em=t,i==null?this.removeAttribute(n):this.setAttribute(n,i),this._$Em=null}}_$AK(t,e){let s=this.constructor,n=s._$Eh.get(t);if(n!==void 0&&this._$Em!==n){let i=s.getPropertyOptions(n),a=typeof i.converter=="function"?{fromAttribute:i.converter}:i.converter?.fromAttribute!==void 0?i.converter:F;this._$Em=n;let h=a.fromAttribute(e,i.type);this[n]=h??this._$Ej?.get(n)??h,this._$Em=null}}requestUpdate(t,e,s,n=!1,i){if(t!==void 0){let a=this.constructor;if(n===!1&&(i=this[t]),s??=a.getPropertyOptions(t),!((s.hasChanged??lt)(i,e)||s.useDefault&&s.reflect&&i===this._$Ej?.get(t)&&!this.hasAttribute(a._$Eu(t,s))))return;this.C(t,e,s)}this.isUpdatePending===!1&&(this._$ES=this._$EP())}C(t,e,{useDefault:s,reflect:n,wrapped:i},a){s&&!(this._$Ej??=new Map).has(t)&&(this._$Ej.set(t,a??e??this[t]),i!==!0||a!==void 0)||(this._$AL.has(t)||(this.hasUpdated||s||(e=void 0),this._$AL.set(t,e)),n===!0&&this._$Em!==t&&(this._$Eq??=new Set).add(t))}async _$EP(){this.isUpdatePending=!0;try{await this._$ES}catch(e){Promise.reject(e)}let t=this.scheduleUpdate();return t!=null&&await t,!this.isUpdatePending}scheduleUpdate(){return this.performUpdate()}performUpdate(){if(!this.isUpdatePending)return;if(!this.hasUpdated){if(this.renderRoot??=this.createRenderRoot(),this._$Ep){for(let[n,i]of this._$Ep)this[n]=i;this._$Ep=void 0}let s=this.constructor.elementProperties;if(s.size>0)for(let[n,i]of s){let{wrapped:a}=i,h=this[n];a!==!0||this._$AL.has(n)||h===void 0||this.C(n,void 0,i,h)}}let t=!1,e=this._$AL;try{t=this.shouldUpdate(e),t?(this.willUpdate(e),this._$EO?.forEach(s=>s.hostUpdate?.()),this.update(e)):this._$EM()}catch(s){throw t=!1,this._$EM(),s}t&&this._$AE(e)}willUpdate(t){}_$AE(t){this._$EO?.forEach(e=>e.hostUpdated?.()),this.hasUpdated||(this.hasUpdated=!0,this.firstUpdated(t)),this.updated(t)}_$EM(){this._$AL=new Map,this.isUpdatePending=!1}get updateComplete(){return this.getUpdateComplete()}getUpdateComplete(){return this._$ES}shouldUpdate(t){return!0}update(t){this._$Eq&&=this._$Eq.forEach(e=>this._$ET(e,this[e])),this._$EM()}updated(t){}firstUpdated(t){}};m.elementStyles=[],m.shadowRootOptions={mode:"open"},m[C("elementProperties")]=new Map,m[C("finalized")]=new Map,Rt?.({ReactiveElement:m}),(D.reactiveElementVersions??=[]).push("2.1.2");var Y=globalThis,ct=o=>o,q=Y.trustedTypes,dt=q?q.createPolicy("lit-html",{createHTML:o=>o}):void 0,ft="$lit$",$=`lit$${Math.random().toFixed(9).slice(2)}$`,$t="?"+$,Tt=`<${$t}>`,x=document,U=()=>x.createComment(""),R=o=>o===null||typeof o!="object"&&typeof o!="function",tt=Array.isArray,Nt=o=>tt(o)||typeof o?.[Symbol.iterator]=="function",V=`[ 	
\f\r]`,P=/<(?:(!--|\/[^a-zA-Z])|(\/?[a-zA-Z][^>\s]*)|(\/?$))/g,ht=/-->/g,_t=/>/g,g=RegExp(`>|${V}(?:([^\\s"'>=/]+)(${V}*=${V}*(?:[^ 	
\f\r"'\`<>=]|("|')|))|$)`,"g"),pt=/'/g,ut=/"/g,bt=/^(?:script|style|textarea|title)$/i,et=o=>(t,...e)=>({_$litType$:o,strings:t,values:e}),r=et(1),Kt=et(2),Ft=et(3),v=Symbol.for("lit-noChange"),l=Symbol.for("lit-nothing"),mt=new WeakMap,y=x.createTreeWalker(x,129);function gt(o,t){if(!tt(o)||!o.hasOwnProperty("raw"))throw Error("invalid template strings array");return dt!==void 0?dt.createHTML(t):t}var Mt=(o,t)=>{let e=o.length-1,s=[],n,i=t===2?"<svg>":t===3?"<math>":"",a=P;for(let h=0;h<e;h++){let c=o[h],_,p,d=-1,u=0;for(;u<c.length&&(a.lastIndex=u,p=a.exec(c),p!==null);)u=a.lastIndex,a===P?p[1]==="!--"?a=ht:p[1]!==void 0?a=_t:p[2]!==void 0?(bt.test(p[2])&&(n=RegExp("</"+p[2],"g")),a=g):p[3]!==void 0&&(a=g):a===g?p[0]===">"?(a=n??P,d=-1):p[1]===void 0?d=-2:(d=a.lastIndex-p[2].length,_=p[1],a=p[3]===void 0?g:p[3]==='"'?ut:pt):a===ut||a===pt?a=g:a===ht||a===_t?a=P:(a=g,n=void 0);let f=a===g&&o[h+1].startsWith("/>")?" ":"";i+=a===P?c+Tt:d>=0?(s.push(_),c.slice(0,d)+ft+c.slice(d)+$+f):c+$+(d===-2?h:f)}return[gt(o,i+(o[e]||"<?>")+(t===2?"</svg>":t===3?"</math>":"")),s]},T=class o{constructor({strings:t,_$litType$:e},s){let n;this.parts=[];let i=0,a=0,h=t.length-1,c=this.parts,[_,p]=Mt(t,e);if(this.el=o.createElement(_,s),y.currentNode=this.el.content,e===2||e===3){let d=this.el.content.firstChild;d.replaceWith(...d.childNodes)}for(;(n=y.nextNode())!==null&&c.length<h;){if(n.nodeType===1){if(n.hasAttributes())for(let d of n.getAttributeNames())if(d.endsWith(ft)){let u=p[a++],f=n.getAttribute(d).split($),L=/([.?@])?(.*)/.exec(u);c.push({type:1,index:i,name:L[2],strings:f,ctor:L[1]==="."?X:L[1]==="?"?G:L[1]==="@"?Z:w}),n.removeAttribute(d)}else d.startsWith($)&&(c.push({type:6,index:i}),n.removeAttribute(d));if(bt.test(n.tagName)){let d=n.textContent.split($),u=d.length-1;if(u>0){n.textContent=q?q.emptyScript:"";for(let f=0;f<u;f++)n.append(d[f],U()),y.nextNode(),c.push({type:2,index:++i});n.append(d[u],U())}}}else if(n.nodeType===8)if(n.data===$t)c.push({type:2,index:i});else{let d=-1;for(;(d=n.data.indexOf($,d+1))!==-1;)c.push({type:7,index:i}),d+=$.length-1}i++}}static createElement(t,e){let s=x.createElement("template");return s.innerHTML=t,s}};function A(o,t,e=o,s){if(t===v)return t;let n=s!==void 0?e._$Co?.[s]:e._$Cl,i=R(t)?void 0:t._$litDirective$;return n?.constructor!==i&&(n?._$AO?.(!1),i===void 0?n=void 0:(n=new i(o),n._$AT(o,e,s)),s!==void 0?(e._$Co??=[])[s]=n:e._$Cl=n),n!==void 0&&(t=A(o,n._$AS(o,t.values),n,s)),t}var J=class{constructor(t,e){this._$AV=[],this._$AN=void 0,this._$AD=t,this._$AM=e}get parentNode(){return this._$AM.parentNode}get _$AU(){return this._$AM._$AU}u(t){let{el:{content:e},parts:s}=this._$AD,n=(t?.creationScope??x).importNode(e,!0);y.currentNode=n;let i=y.nextNode(),a=0,h=0,c=s[0];for(;c!==void 0;){if(a===c.index){let _;c.type===2?_=new N(i,i.nextSibling,this,t):c.type===1?_=new c.ctor(i,c.name,c.strings,this,t):c.type===6&&(_=new Q(i,this,t)),this._$AV.push(_),c=s[++h]}a!==c?.index&&(i=y.nextNode(),a++)}return y.currentNode=x,n}p(t){let e=0;for(let s of this._$AV)s!==void 0&&(s.strings!==void 0?(s._$AI(t,s,e),e+=s.strings.length-2):s._$AI(t[e])),e++}},N=class o{get _$AU(){return this._$AM?._$AU??this._$Cv}constructor(t,e,s,n){this.type=2,this._$AH=l,this._$AN=void 0,this._$AA=t,this._$AB=e,this._$AM=s,this.options=n,this._$Cv=n?.isConnected??!0}get parentNode(){let t=this._$AA.parentNode,e=this._$AM;return e!==void 0&&t?.nodeType===11&&(t=e.parentNode),t}get startNode(){return this._$AA}get endNode(){return this._$AB}_$AI(t,e=this){t=A(this,t,e),R(t)?t===l||t==null||t===""?(this._$AH!==l&&this._$AR(),this._$AH=l):t!==this._$AH&&t!==v&&this._(t):t._$litType$!==void 0?this.$(t):t.nodeType!==void 0?this.T(t):Nt(t)?this.k(t):this._(t)}O(t){return this._$AA.parentNode.insertBefore(t,this._$AB)}T(t){this._$AH!==t&&(this._$AR(),this._$AH=this.O(t))}_(t){this._$AH!==l&&R(this._$AH)?this._$AA.nextSibling.data=t:this.T(x.createTextNode(t)),this._$AH=t}$(t){let{values:e,_$litType$:s}=t,n=typeof s=="number"?this._$AC(t):(s.el===void 0&&(s.el=T.createElement(gt(s.h,s.h[0]),this.options)),s);if(this._$AH?._$AD===n)this._$AH.p(e);else{let i=new J(n,this),a=i.u(this.options);i.p(e),this.T(a),this._$AH=i}}_$AC(t){let e=mt.get(t.strings);return e===void 0&&mt.set(t.strings,e=new T(t)),e}k(t){tt(this._$AH)||(this._$AH=[],this._$AR());let e=this._$AH,s,n=0;for(let i of t)n===e.length?e.push(s=new o(this.O(U()),this.O(U()),this,this.options)):s=e[n],s._$AI(i),n++;n<e.length&&(this._$AR(s&&s._$AB.nextSibling,n),e.length=n)}_$AR(t=this._$AA.nextSibling,e){for(this._$AP?.(!1,!0,e);t!==this._$AB;){let s=ct(t).nextSibling;ct(t).remove(),t=s}}setConnected(t){this._$AM===void 0&&(this._$Cv=t,this._$AP?.(t))}},w=class{get tagName(){return this.element.tagName}get _$AU(){return this._$AM._$AU}constructor(t,e,s,n,i){this.type=1,this._$AH=l,this._$AN=void 0,this.element=t,this.name=e,this._$AM=n,this.options=i,s.length>2||s[0]!==""||s[1]!==""?(this._$AH=Array(s.length-1).fill(new String),this.strings=s):this._$AH=l}_$AI(t,e=this,s,n){let i=this.strings,a=!1;if(i===void 0)t=A(this,t,e,0),a=!R(t)||t!==this._$AH&&t!==v,a&&(this._$AH=t);else{let h=t,c,_;for(t=i[0],c=0;c<i.length-1;c++)_=A(this,h[s+c],e,c),_===v&&(_=this._$AH[c]),a||=!R(_)||_!==this._$AH[c],_===l?t=l:t!==l&&(t+=(_??"")+i[c+1]),this._$AH[c]=_}a&&!n&&this.j(t)}j(t){t===l?this.element.removeAttribute(this.name):this.element.setAttribute(this.name,t??"")}},X=class extends w{constructor(){super(...arguments),this.type=3}j(t){this.element[this.name]=t===l?void 0:t}},G=class extends w{constructor(){super(...arguments),this.type=4}j(t){this.element.toggleAttribute(this.name,!!t&&t!==l)}},Z=class extends w{constructor(t,e,s,n,i){super(t,e,s,n,i),this.type=5}_$AI(t,e=this){if((t=A(this,t,e,0)??l)===v)return;let s=this._$AH,n=t===l&&s!==l||t.capture!==s.capture||t.once!==s.once||t.passive!==s.passive,i=t!==l&&(s===l||n);n&&this.element.removeEventListener(this.name,this,s),i&&this.element.addEventListener(this.name,this,t),this._$AH=t}handleEvent(t){typeof this._$AH=="function"?this._$AH.call(this.options?.host??this.element,t):this._$AH.handleEvent(t)}},Q=class{constructor(t,e,s){this.element=t,this.type=6,this._$AN=void 0,this._$AM=e,this.options=s}get _$AU(){return this._$AM._$AU}_$AI(t){A(this,t)}};var Lt=Y.litHtmlPolyfillSupport;Lt?.(T,N),(Y.litHtmlVersions??=[]).push("3.3.3");var yt=(o,t,e)=>{let s=e?.renderBefore??t,n=s._$litPart$;if(n===void 0){let i=e?.renderBefore??null;s._$litPart$=n=new N(t.insertBefore(U(),i),i,void 0,e??{})}return n._$AI(o),n};var st=globalThis,b=class extends m{constructor(){super(...arguments),this.renderOptions={host:this},this._$Do=void 0}createRenderRoot(){let t=super.createRenderRoot();return this.renderOptions.renderBefore??=t.firstChild,t}update(t){let e=this.render();this.hasUpdated||(this.renderOptions.isConnected=this.isConnected),super.update(t),this._$Do=yt(e,this.renderRoot,this.renderOptions)}connectedCallback(){super.connectedCallback(),this._$Do?.setConnected(!0)}disconnectedCallback(){super.disconnectedCallback(),this._$Do?.setConnected(!1)}render(){return v}};b._$litElement$=!0,b.finalized=!0,st.litElementHydrateSupport?.({LitElement:b});var Ot=st.litElementPolyfillSupport;Ot?.({LitElement:b});(st.litElementVersions??=[]).push("4.2.2");var B={en:{title:"Counter",site:"Site",search_label:"Patron ID, card or name",search_hint:"Scan a card or type a patron ID or name, then press Enter.",search:"Find",tab_patron:"Patron",tab_rooms:"Rooms",tab_boxes:"Return boxes",tab_add:"Add patron",not_staff:"This account is not counter staff.",not_staff_hint:"An administrator names counter staff in the site's options (Settings \u2192 Devices & services \u2192 NTNU Library \u2192 Configure).",loading:"Loading\u2026",nobody:"No patron matches \u201C{query}\u201D.",several:"Several patrons match \u201C{query}\u201D: choose one.",patron_id:"Patron ID",name:"Name",category:"Category",card:"Card",card_yes:"registered",card_no:"none",membership:"Membership until",membership_none:"no end date",expired:"expired",suspended:"suspended",frozen_until:"Frozen until {until}",frozen_reason:"Reason: {reason}",not_frozen:"Not frozen",checked_in_today:"Checked in today",not_checked_in:"Not checked in today",login_ok:"No failed logins in the last hour",login_failures:"{count} failed logins in the last hour",login_locked:"Login locked for {seconds} s more",rooms_held:"Rooms held",no_room:"Holds no room",reservations:"Long-term reservations",no_reservations:"No reservations",month:"Month",room:"Room",loans:"Loans",loans_count:"{count} of {limit} items, loan period {period}",no_loans:"No loans",barcode:"Barcode",title_col:"Title",due:"Due",overdue:"overdue",in_box:"in return box {box}",status:"Status",holder:"Holder",since:"Since",lock:"Lock",locked:"Locked",unlocked:"Unlocked",lock_unknown:"Unknown",jammed:"jammed",kind_temporary:"temporary",kind_long_term:"long-term",unavailable:"Unavailable",actions:"Actions",return_room:"Return room",check_in:"Check in for today",freeze:"Freeze",freeze_days:"Days",freeze_days_default:"site default",freeze_reason:"Reason",unfreeze:"Unfreeze",clear_lock:"Clear login lock",reserve:"Reserve",cancel_reservation:"Cancel",lend:"Lend at the counter (accompanying material included)",lend_button:"Lend",check_in_items:"Check in returned items",check_in_button:"Check in",items_hint:"One or more barcodes, separated by spaces",extend:"Extend membership",extend_until:"Until (empty: the category's period)",extend_button:"Extend",reactivate:"Reactivate membership",membership_title:"Membership",freeze_title:"Freeze",login_title:"Login",unlock:"Unlock\u2026",unlock_title:"Unlock the door of {room}?",unlock_text:"The door opens now, whoever holds the room. Only do this for someone you can see at the door.",unlock_confirm:"Unlock",cancel:"Cancel",box_title:"Return box {box}",box_waiting:"Waiting for scan-back ({count})",box_findings:"Set aside for staff ({count})",box_empty:"Nothing waiting",no_findings:"Nothing set aside",dropped:"Dropped",reason:"Reason",scan_back:"Scan back {box}",scan_result:"Scanned back {box}: {count} checked in.",scan_checked_in:"Checked in",scan_flagged:"Handed to staff",no_boxes:"This site empties no return box.",add_title:"Add a patron",add_card:"Card (optional)",add_expires:"Membership until (empty: the category's default)",add_button:"Add patron",choose:"Choose\u2026",added:"{patron} added.",code_title:"Activation code for {patron}",code_once:"Give this code to the patron now: it is shown only this once. With it they choose their password at /ntnu_library/activate until {until}.",done:"Done",directory_elsewhere:"Patrons are managed in the library system (ILS), not here.",done_return:"Room {room} returned.",done_check_in:"{patron} checked in for today.",done_freeze:"{patron} frozen until {until}.",done_unfreeze:"{patron} unfrozen.",done_clear_lock:"Login lock of {patron} cleared.",done_clear_nothing:"{patron} had no login lock.",done_reserve:"{room} reserved for {patron} in {month}.",done_cancel:"Reservation of {room} in {month} cancelled.",done_lend:"{count} items lent to {patron}.",done_check_in_items:"{count} items checked in.",done_extend:"Membership of {patron} extended until {until}.",done_reactivate:"Membership of {patron} reactivated.",done_unlock:"Door of {room} unlocked.",receipt:"Lent",refused:"Refused",failed:"Not done: {message}",refresh:"Refresh",keys_hint:"Keys: / search \xB7 Alt+1\u20134 tabs \xB7 Esc closes a question"},"zh-Hant":{title:"\u6AC3\u6AAF",site:"\u9928\u5225",search_label:"\u8B80\u8005\u5E33\u865F\u3001\u8B49\u4EF6\u6216\u59D3\u540D",search_hint:"\u6383\u63CF\u8B49\u4EF6\uFF0C\u6216\u8F38\u5165\u8B80\u8005\u5E33\u865F\u6216\u59D3\u540D\u5F8C\u6309 Enter\u3002",search:"\u67E5\u8A62",tab_patron:"\u8B80\u8005",tab_rooms:"\u7814\u7A76\u5BA4",tab_boxes:"\u9084\u66F8\u7BB1",tab_add:"\u65B0\u589E\u8B80\u8005",not_staff:"\u6B64\u5E33\u865F\u4E0D\u662F\u6AC3\u6AAF\u4EBA\u54E1\u3002",not_staff_hint:"\u8ACB\u7BA1\u7406\u54E1\u5728\u9928\u5225\u7684\u9078\u9805\u4E2D\u6307\u5B9A\u6AC3\u6AAF\u4EBA\u54E1\uFF08\u8A2D\u5B9A \u2192 \u88DD\u7F6E\u8207\u670D\u52D9 \u2192 NTNU Library \u2192 \u9078\u9805\uFF09\u3002",loading:"\u8F09\u5165\u4E2D\u2026",nobody:"\u67E5\u7121\u7B26\u5408\u300C{query}\u300D\u7684\u8B80\u8005\u3002",several:"\u6709\u591A\u4F4D\u8B80\u8005\u7B26\u5408\u300C{query}\u300D\uFF0C\u8ACB\u9078\u64C7\u4E00\u4F4D\u3002",patron_id:"\u8B80\u8005\u5E33\u865F",name:"\u59D3\u540D",category:"\u8B80\u8005\u985E\u5225",card:"\u8B49\u4EF6",card_yes:"\u5DF2\u767B\u9304",card_no:"\u7121",membership:"\u501F\u95B1\u8CC7\u683C\u81F3",membership_none:"\u7121\u671F\u9650",expired:"\u5DF2\u904E\u671F",suspended:"\u5DF2\u66AB\u505C",frozen_until:"\u51CD\u7D50\u81F3 {until}",frozen_reason:"\u539F\u56E0\uFF1A{reason}",not_frozen:"\u672A\u51CD\u7D50",checked_in_today:"\u4ECA\u65E5\u5DF2\u5831\u5230",not_checked_in:"\u4ECA\u65E5\u5C1A\u672A\u5831\u5230",login_ok:"\u6700\u8FD1\u4E00\u5C0F\u6642\u7121\u767B\u5165\u5931\u6557",login_failures:"\u6700\u8FD1\u4E00\u5C0F\u6642\u767B\u5165\u5931\u6557 {count} \u6B21",login_locked:"\u767B\u5165\u5C1A\u9808\u7B49\u5F85 {seconds} \u79D2",rooms_held:"\u4F7F\u7528\u4E2D\u7684\u7814\u7A76\u5BA4",no_room:"\u672A\u4F7F\u7528\u7814\u7A76\u5BA4",reservations:"\u9577\u671F\u7814\u7A76\u5BA4\u767B\u8A18",no_reservations:"\u7121\u767B\u8A18",month:"\u6708\u4EFD",room:"\u7814\u7A76\u5BA4",loans:"\u501F\u95B1\u8CC7\u6599",loans_count:"\u5DF2\u501F {count} \u518A\uFF0C\u4E0A\u9650 {limit} \u518A\uFF0C\u501F\u671F {period}",no_loans:"\u7121\u501F\u95B1\u8CC7\u6599",barcode:"\u689D\u78BC",title_col:"\u984C\u540D",due:"\u5230\u671F\u65E5",overdue:"\u5DF2\u903E\u671F",in_box:"\u5728\u9084\u66F8\u7BB1 {box}",status:"\u72C0\u614B",holder:"\u4F7F\u7528\u8005",since:"\u958B\u59CB\u4F7F\u7528",lock:"\u9580\u9396",locked:"\u5DF2\u4E0A\u9396",unlocked:"\u5DF2\u958B\u9396",lock_unknown:"\u672A\u77E5",jammed:"\u5361\u4F4F",kind_temporary:"\u81E8\u6642",kind_long_term:"\u9577\u671F",unavailable:"\u7121\u6CD5\u4F7F\u7528",actions:"\u64CD\u4F5C",return_room:"\u6AC3\u6AAF\u6B78\u9084",check_in:"\u4ECA\u65E5\u5831\u5230",freeze:"\u51CD\u7D50",freeze_days:"\u5929\u6578",freeze_days_default:"\u9928\u5225\u9810\u8A2D",freeze_reason:"\u539F\u56E0",unfreeze:"\u89E3\u9664\u51CD\u7D50",clear_lock:"\u89E3\u9664\u767B\u5165\u9396\u5B9A",reserve:"\u767B\u8A18",cancel_reservation:"\u53D6\u6D88",lend:"\u6AC3\u6AAF\u501F\u95B1\uFF08\u542B\u9644\u4EF6\uFF09",lend_button:"\u501F\u51FA",check_in_items:"\u6B78\u9084\u8CC7\u6599",check_in_button:"\u6B78\u9084",items_hint:"\u4E00\u6216\u591A\u500B\u689D\u78BC\uFF0C\u4EE5\u7A7A\u683C\u5206\u9694",extend:"\u5EF6\u9577\u501F\u95B1\u8CC7\u683C",extend_until:"\u5EF6\u9577\u81F3\uFF08\u7A7A\u767D\uFF1A\u4F9D\u8B80\u8005\u985E\u5225\u671F\u9650\uFF09",extend_button:"\u5EF6\u9577",reactivate:"\u6062\u5FA9\u501F\u95B1\u8CC7\u683C",membership_title:"\u501F\u95B1\u8CC7\u683C",freeze_title:"\u51CD\u7D50",login_title:"\u767B\u5165",unlock:"\u958B\u9396\u2026",unlock_title:"\u8981\u6253\u958B\u7814\u7A76\u5BA4 {room} \u7684\u9580\u9396\u55CE\uFF1F",unlock_text:"\u4E0D\u8AD6\u8AB0\u6B63\u5728\u4F7F\u7528\uFF0C\u9580\u9396\u90FD\u6703\u7ACB\u5373\u6253\u958B\u3002\u8ACB\u53EA\u70BA\u60A8\u770B\u5F97\u5230\u3001\u6B63\u5728\u9580\u53E3\u7684\u4EBA\u958B\u9396\u3002",unlock_confirm:"\u958B\u9396",cancel:"\u53D6\u6D88",box_title:"\u9084\u66F8\u7BB1 {box}",box_waiting:"\u5F85\u6383\u63CF\u6B78\u9084\uFF08{count}\uFF09",box_findings:"\u7559\u5F85\u9928\u54E1\u8655\u7406\uFF08{count}\uFF09",box_empty:"\u7121\u5F85\u8655\u7406\u8CC7\u6599",no_findings:"\u7121\u7559\u7F6E\u7269\u54C1",dropped:"\u6295\u5165\u6642\u9593",reason:"\u539F\u56E0",scan_back:"\u6383\u63CF\u6B78\u9084 {box}",scan_result:"\u5DF2\u6383\u63CF\u6B78\u9084 {box}\uFF1A\u6B78\u9084 {count} \u518A\u3002",scan_checked_in:"\u5DF2\u6B78\u9084",scan_flagged:"\u4EA4\u9928\u54E1\u8655\u7406",no_boxes:"\u672C\u9928\u5225\u6C92\u6709\u8CA0\u8CAC\u7684\u9084\u66F8\u7BB1\u3002",add_title:"\u65B0\u589E\u8B80\u8005",add_card:"\u8B49\u4EF6\uFF08\u9078\u586B\uFF09",add_expires:"\u501F\u95B1\u8CC7\u683C\u81F3\uFF08\u7A7A\u767D\uFF1A\u4F9D\u8B80\u8005\u985E\u5225\u9810\u8A2D\uFF09",add_button:"\u65B0\u589E\u8B80\u8005",choose:"\u8ACB\u9078\u64C7\u2026",added:"\u5DF2\u65B0\u589E {patron}\u3002",code_title:"{patron} \u7684\u555F\u7528\u78BC",code_once:"\u8ACB\u7ACB\u5373\u5C07\u6B64\u555F\u7528\u78BC\u4EA4\u7D66\u8B80\u8005\uFF1A\u53EA\u6703\u986F\u793A\u9019\u4E00\u6B21\u3002\u8B80\u8005\u53EF\u5728 {until} \u524D\uFF0C\u65BC /ntnu_library/activate \u4EE5\u6B64\u78BC\u8A2D\u5B9A\u5BC6\u78BC\u3002",done:"\u5B8C\u6210",directory_elsewhere:"\u8B80\u8005\u8CC7\u6599\u7531\u5716\u66F8\u9928\u7CFB\u7D71\uFF08ILS\uFF09\u7BA1\u7406\uFF0C\u7121\u6CD5\u5728\u6B64\u65B0\u589E\u3002",done_return:"\u7814\u7A76\u5BA4 {room} \u5DF2\u6B78\u9084\u3002",done_check_in:"{patron} \u4ECA\u65E5\u5DF2\u5831\u5230\u3002",done_freeze:"{patron} \u5DF2\u51CD\u7D50\u81F3 {until}\u3002",done_unfreeze:"{patron} \u5DF2\u89E3\u9664\u51CD\u7D50\u3002",done_clear_lock:"\u5DF2\u89E3\u9664 {patron} \u7684\u767B\u5165\u9396\u5B9A\u3002",done_clear_nothing:"{patron} \u6C92\u6709\u767B\u5165\u9396\u5B9A\u3002",done_reserve:"\u5DF2\u70BA {patron} \u767B\u8A18 {month} \u7684 {room}\u3002",done_cancel:"\u5DF2\u53D6\u6D88 {room} \u65BC {month} \u7684\u767B\u8A18\u3002",done_lend:"\u5DF2\u501F\u51FA {count} \u518A\u7D66 {patron}\u3002",done_check_in_items:"\u5DF2\u6B78\u9084 {count} \u518A\u3002",done_extend:"{patron} \u7684\u501F\u95B1\u8CC7\u683C\u5DF2\u5EF6\u9577\u81F3 {until}\u3002",done_reactivate:"{patron} \u7684\u501F\u95B1\u8CC7\u683C\u5DF2\u6062\u5FA9\u3002",done_unlock:"\u7814\u7A76\u5BA4 {room} \u7684\u9580\u9396\u5DF2\u6253\u958B\u3002",receipt:"\u501F\u51FA",refused:"\u672A\u501F\u51FA",failed:"\u672A\u5B8C\u6210\uFF1A{message}",refresh:"\u91CD\u65B0\u6574\u7406",keys_hint:"\u6309\u9375\uFF1A/ \u67E5\u8A62 \xB7 Alt+1\u20134 \u5207\u63DB\u5206\u9801 \xB7 Esc \u95DC\u9589\u8A62\u554F"}};var S="ntnu_library",xt=["patron","rooms","boxes","add"];function k(o){return(o?.language||"en").toLowerCase().startsWith("zh")?"zh-Hant":"en"}function Dt(o,t={}){return o.replace(/\{(\w+)\}/g,(e,s)=>s in t?String(t[s]):e)}function E(o){return o?o.replace("T"," ").slice(0,16):""}function vt(o){return o.split(/[\s,;]+/).map(t=>t.trim()).filter(Boolean)}var M=class extends b{constructor(){super(),this._tab="patron",this._sites=void 0,this._site=void 0,this._categories=[],this._refused=!1,this._query="",this._matches=void 0,this._patron=void 0,this._message=void 0,this._busy=!1,this._lent=void 0,this._returned=void 0,this._scans={},this._added=void 0,this._unlocking=void 0,this._localize=void 0,this._loading=!1,this._following=void 0,this._onKey=this._onKey.bind(this)}connectedCallback(){super.connectedCallback(),window.addEventListener("keydown",this._onKey)}disconnectedCallback(){window.removeEventListener("keydown",this._onKey),clearTimeout(this._following),this._following=void 0,super.disconnectedCallback()}updated(t){!t.has("hass")||!this.hass||(this._sites===void 0&&!this._loading?this._load():t.get("hass")&&(this._tab==="rooms"||this._tab==="boxes")&&this._followStates())}_followStates(){this._following||this._refused||(this._following=setTimeout(async()=>{await this._refresh(),this._following=void 0},2e3))}_t(t,e){let s=B[k(this.hass)]||B.en;return Dt(s[t]??B.en[t]??t,e)}_backend(t,e){let s=this._localize||this.hass?.localize;return(s?s(`component.${S}.${t}`,e||{}):"")||""}_reason(t,e){return this._backend(`exceptions.${t}.message`,e)||t}_error(t){let e=t?.translation_key,s=e?this._reason(e,t.translation_placeholders):"";return s&&s!==e?s:t?.message||String(t)}_status(t){return t==="unavailable"?this._t("unavailable"):this._backend(`entity.sensor.status.state.${t}`)||t}_category(t){let e=this._categories.find(s=>s.key===t);return e?e[k(this.hass)]||e.en:t}async _load(){this._loading=!0;try{let[t]=await Promise.all([this.hass.loadBackendTranslation?this.hass.loadBackendTranslation("exceptions",S):void 0,this.hass.loadBackendTranslation?this.hass.loadBackendTranslation("entity",S):void 0]);t&&(this._localize=t)}catch{}await this._refresh(),this._loading=!1}async _refresh(){try{let t=await this.hass.callWS({type:`${S}/counter/overview`});this._sites=t.sites,this._categories=t.categories,(!this._site||!t.sites.some(e=>e.config_entry_id===this._site))&&(this._site=t.sites[0]?.config_entry_id),this._refused=!1}catch(t){t?.code==="unauthorized"?(this._refused=!0,this._sites=[],this._message={ok:!1,text:this._error(t)}):this._message={ok:!1,text:this._t("failed",{message:this._error(t)})}}}_call(t,e={}){return this.hass.callWS({type:`${S}/counter/${t}`,config_entry_id:this._site,...e})}async _act(t,e,s,{site:n}={}){if(this._busy)return;this._busy=!0;let i;try{i=await this.hass.callWS({type:`${S}/counter/${t}`,config_entry_id:n||this._site,...e}),this._message={ok:!0,text:s(i)}}catch(a){this._message={ok:!1,text:this._t("failed",{message:this._error(a)})}}return this._busy=!1,await Promise.all([this._refresh(),this._reloadPatron()]),i}async _reloadPatron(){if(this._patron)try{this._patron=await this._call("patron",{patron_id:this._patron.patron_id})}catch{this._patron=void 0}}async _find(t){t?.preventDefault();let e=this._query.trim();if(!(!e||this._busy)){this._busy=!0,this._tab="patron",this._lent=void 0,this._returned=void 0;try{let s=await this._call("find",{query:e});this._matches=s.matches,this._patron=s.patron||void 0,this._message=s.matches.length?s.patron?void 0:{ok:!0,text:this._t("several",{query:e})}:{ok:!1,text:this._t("nobody",{query:e})}}catch(s){this._message={ok:!1,text:this._t("failed",{message:this._error(s)})}}this._busy=!1,this._query=""}}async _open(t){this._tab="patron",this._matches=void 0;try{this._patron=await this._call("patron",{patron_id:t}),this._message=void 0}catch(e){this._message={ok:!1,text:this._t("failed",{message:this._error(e)})}}}_onKey(t){let e=["INPUT","SELECT","TEXTAREA"].includes(t.composedPath()[0]?.tagName);t.key==="/"&&!e?(t.preventDefault(),this._focusSearch()):t.altKey&&/^[1-4]$/.test(t.key)&&(t.preventDefault(),this._show(xt[Number(t.key)-1]))}_show(t){t!==this._tab&&(this._message=void 0),this._tab=t}_focusSearch(){this.renderRoot?.querySelector("#search")?.focus()}firstUpdated(){this._focusSearch()}render(){if(!this.hass)return l;let t=k(this.hass);return r`
      <div class="toolbar" lang=${t}>
        ${this.narrow?r`<ha-menu-button .hass=${this.hass} .narrow=${this.narrow}></ha-menu-button>`:l}
        <h1>${this._t("title")}</h1>
        ${this._sites&&this._sites.length>1?r`<label class="site"
              >${this._t("site")}
              <select
                .value=${this._site}
                @change=${e=>{this._site=e.target.value,this._patron=void 0}}
              >
                ${this._sites.map(e=>r`<option value=${e.config_entry_id}>${e.name}</option>`)}
              </select></label
            >`:this._sites?.length?r`<span class="site">${this._sites[0].name}</span>`:l}
        <form class="search" @submit=${this._find} role="search">
          <input
            id="search"
            type="search"
            autocomplete="off"
            spellcheck="false"
            aria-label=${this._t("search_label")}
            placeholder=${this._t("search_label")}
            .value=${this._query}
            @input=${e=>this._query=e.target.value}
            ?disabled=${this._refused}
          />
          <button type="submit" ?disabled=${this._refused||this._busy}>
            ${this._t("search")}
          </button>
        </form>
      </div>
      ${this._refused?this._renderRefused():this._renderMain(t)}
      ${this._renderUnlock()}
    `}_renderRefused(){return r`<main class="refused" lang=${k(this.hass)}>
      <h2>${this._t("not_staff")}</h2>
      <p>${this._message?.text}</p>
      <p class="hint">${this._t("not_staff_hint")}</p>
    </main>`}_renderMain(t){return this._sites===void 0?r`<main><p class="hint">${this._t("loading")}</p></main>`:r`
      <nav class="tabs" role="tablist">
        ${xt.map((e,s)=>r`<button
            role="tab"
            id=${`tab-${e}`}
            aria-selected=${this._tab===e?"true":"false"}
            title=${`Alt+${s+1}`}
            @click=${()=>this._show(e)}
          >
            ${this._t(`tab_${e}`)}
          </button>`)}
        <span class="keys">${this._t("keys_hint")}</span>
      </nav>
      <main lang=${t}>
        ${this._message?r`<p class="message ${this._message.ok?"ok":"error"}" role="status">
              ${this._message.text}
            </p>`:l}
        ${this._tab==="patron"?this._renderPatronTab():this._tab==="rooms"?this._renderRooms():this._tab==="boxes"?this._renderBoxes():this._renderAdd()}
      </main>
    `}get _currentSite(){return this._sites?.find(t=>t.config_entry_id===this._site)}_renderPatronTab(){if(this._matches&&this._matches.length>1&&!this._patron)return r`<ul class="matches">
        ${this._matches.map(e=>r`<li>
            <button @click=${()=>this._open(e.patron_id)}>
              <strong>${e.patron_id}</strong> ${e.name} · ${this._category(e.category)}
            </button>
          </li>`)}
      </ul>`;if(!this._patron)return r`<p class="hint big">${this._t("search_hint")}</p>`;let t=this._patron;return r`<div class="patron">
      <section class="card who">
        <h2><span class="pid">${t.patron_id}</span> ${t.name}</h2>
        <dl>
          <dt>${this._t("category")}</dt>
          <dd>${this._category(t.category)}</dd>
          <dt>${this._t("membership")}</dt>
          <dd>
            ${t.membership_expires||this._t("membership_none")}
            ${t.expired?r`<span class="chip bad">${this._t("expired")}</span>`:l}
            ${t.suspended?r`<span class="chip bad">${this._t("suspended")}</span>`:l}
          </dd>
          <dt>${this._t("card")}</dt>
          <dd>${t.card?this._t("card_yes"):this._t("card_no")}</dd>
        </dl>
        ${this._renderFreeze(t)} ${this._renderLogin(t)} ${this._renderMembership(t)}
      </section>
      <div class="column">
        ${this._renderPatronRooms(t)} ${this._renderLoans(t)} ${this._renderLend(t)}
      </div>
    </div>`}_renderFreeze(t){return r`<h3>${this._t("freeze_title")}</h3>
      ${t.frozen?r`<p>
              <span class="chip bad">${this._t("frozen_until",{until:E(t.frozen.until)})}</span>
              ${t.frozen.reason?r`<span class="hint">${this._t("frozen_reason",{reason:t.frozen.reason})}</span>`:l}
            </p>
            <p>
              ${t.checked_in_today?r`<span class="chip good">${this._t("checked_in_today")}</span>`:r`<span class="chip">${this._t("not_checked_in")}</span>
                    <button
                      id="check-in"
                      @click=${()=>this._act("check_in",{patron_id:t.patron_id},()=>this._t("done_check_in",{patron:t.patron_id}))}
                    >
                      ${this._t("check_in")}
                    </button>`}
              <button
                @click=${()=>this._act("unfreeze",{patron_id:t.patron_id},()=>this._t("done_unfreeze",{patron:t.patron_id}))}
              >
                ${this._t("unfreeze")}
              </button>
            </p>`:r`<p><span class="chip good">${this._t("not_frozen")}</span></p>`}
      <form
        class="inline"
        @submit=${e=>{e.preventDefault();let s=e.target,n=s.days.value.trim();this._act("freeze",{patron_id:t.patron_id,reason:s.reason.value,...n?{days:Number(n)}:{}},i=>this._t("done_freeze",{patron:t.patron_id,until:E(i.frozen_until)})).then(()=>s.reset())}}
      >
        <label
          >${this._t("freeze_days")}
          <input
            name="days"
            type="number"
            min="1"
            step="1"
            placeholder=${this._t("freeze_days_default")}
        /></label>
        <label>${this._t("freeze_reason")} <input name="reason" maxlength="200" /></label>
        <button type="submit">${this._t("freeze")}</button>
      </form>`}_renderLogin(t){let{failures:e,wait_seconds:s}=t.login;return r`<h3>${this._t("login_title")}</h3>
      <p>
        ${e?r`<span class="chip ${s?"bad":""}"
              >${this._t("login_failures",{count:e})}</span
            >`:r`<span class="chip good">${this._t("login_ok")}</span>`}
        ${s?r`<span class="chip bad">${this._t("login_locked",{seconds:s})}</span>`:l}
        ${e?r`<button
              @click=${()=>this._act("clear_login_lock",{patron_id:t.patron_id},n=>this._t(n.cleared?"done_clear_lock":"done_clear_nothing",{patron:t.patron_id}))}
            >
              ${this._t("clear_lock")}
            </button>`:l}
      </p>`}_renderMembership(t){return r`<h3>${this._t("membership_title")}</h3>
      <form
        class="inline"
        @submit=${e=>{e.preventDefault();let s=e.target.until.value;this._act("extend_membership",{patron_id:t.patron_id,...s?{until:s}:{}},n=>this._t("done_extend",{patron:t.patron_id,until:n.membership_expires||this._t("membership_none")}))}}
      >
        <label>${this._t("extend_until")} <input name="until" type="date" /></label>
        <button type="submit">${this._t("extend_button")}</button>
      </form>
      ${t.suspended?r`<p>
            <button
              @click=${()=>this._act("reactivate_membership",{patron_id:t.patron_id},()=>this._t("done_reactivate",{patron:t.patron_id}))}
            >
              ${this._t("reactivate")}
            </button>
          </p>`:l}`}_renderPatronRooms(t){let e=this._currentSite,s=(e?.rooms||[]).filter(n=>n.kind==="long_term");return r`<section class="card">
      <h3>${this._t("rooms_held")}</h3>
      ${t.rooms.length?r`<ul class="plain">
            ${t.rooms.map(n=>r`<li>
                <strong class="room-id">${n.room}</strong>
                <span class="hint">${n.site} · ${this._t(`kind_${n.kind}`)}</span>
                ${n.since?r`<span class="hint">${this._t("since")} ${E(n.since)}</span>`:l}
                ${n.kind==="temporary"?r`<button
                      class="return"
                      @click=${()=>this._act("return_room",{room:n.room},()=>this._t("done_return",{room:n.room}),{site:n.config_entry_id})}
                    >
                      ${this._t("return_room")}
                    </button>`:l}
              </li>`)}
          </ul>`:r`<p class="hint">${this._t("no_room")}</p>`}
      <h3>${this._t("reservations")}</h3>
      ${t.reservations.length?r`<ul class="plain">
            ${t.reservations.map(n=>r`<li>
                <strong>${n.room}</strong> ${n.month} <span class="hint">${n.site}</span>
                <button
                  @click=${()=>this._act("cancel_reservation",{room:n.room,month:n.month},()=>this._t("done_cancel",{room:n.room,month:n.month}),{site:n.config_entry_id})}
                >
                  ${this._t("cancel_reservation")}
                </button>
              </li>`)}
          </ul>`:r`<p class="hint">${this._t("no_reservations")}</p>`}
      ${s.length?r`<form
            class="inline"
            @submit=${n=>{n.preventDefault();let{room:i,month:a}=n.target;this._act("reserve",{patron_id:t.patron_id,room:i.value,month:a.value},()=>this._t("done_reserve",{room:i.value,month:a.value,patron:t.patron_id}))}}
          >
            <label
              >${this._t("room")}
              <select name="room">
                ${s.map(n=>r`<option value=${n.room}>${n.room} · ${this._status(n.status)}</option>`)}
              </select></label
            >
            <label
              >${this._t("month")}
              <select name="month">
                ${e.months.map(n=>r`<option value=${n}>${n}</option>`)}
              </select></label
            >
            <button type="submit">${this._t("reserve")}</button>
          </form>`:l}
    </section>`}_renderLoans(t){let e=Object.fromEntries(t.in_boxes.map(s=>[s.barcode,s.box]));return r`<section class="card">
      <h3>${this._t("loans")}</h3>
      <p class="hint">
        ${this._t("loans_count",{count:t.loans.length,limit:t.item_limit,period:t.loan_period[k(this.hass)]||t.loan_period.en})}
      </p>
      ${t.loans.length?r`<table class="loans">
            <thead>
              <tr>
                <th>${this._t("barcode")}</th>
                <th>${this._t("title_col")}</th>
                <th>${this._t("due")}</th>
              </tr>
            </thead>
            <tbody>
              ${t.loans.map(s=>r`<tr>
                  <td class="code">${s.barcode}</td>
                  <td>${s.title}</td>
                  <td>
                    ${s.due}
                    ${s.overdue?r`<span class="chip bad">${this._t("overdue")}</span>`:l}
                    ${e[s.barcode]?r`<span class="chip">${this._t("in_box",{box:e[s.barcode]})}</span>`:l}
                  </td>
                </tr>`)}
            </tbody>
          </table>`:r`<p class="hint">${this._t("no_loans")}</p>`}
    </section>`}_renderLend(t){return r`<section class="card lend">
      <form
        class="inline"
        @submit=${async e=>{e.preventDefault();let s=e.target.items,n=vt(s.value);if(!n.length)return;let i=await this._act("lend",{patron_id:t.patron_id,items:n},a=>this._t("done_lend",{count:a.receipt.length,patron:t.patron_id}));this._lent=i,i&&(s.value="")}}
      >
        <label
          >${this._t("lend")}
          <input
            id="lend-items"
            name="items"
            autocomplete="off"
            placeholder=${this._t("items_hint")}
        /></label>
        <button type="submit">${this._t("lend_button")}</button>
      </form>
      ${this._lent?this._renderReceipt(this._lent):l}
      <form
        class="inline"
        @submit=${async e=>{e.preventDefault();let s=e.target.items,n=vt(s.value);if(!n.length)return;let i=await this._act("check_in_items",{items:n},a=>this._t("done_check_in_items",{count:a.checked_in.length}));this._returned=i,i&&(s.value="")}}
      >
        <label
          >${this._t("check_in_items")}
          <input
            id="return-items"
            name="items"
            autocomplete="off"
            placeholder=${this._t("items_hint")}
        /></label>
        <button type="submit">${this._t("check_in_button")}</button>
      </form>
      ${this._returned?this._renderCheckin(this._returned):l}
    </section>`}_renderReceipt(t){return r`<ul class="plain result">
      ${t.receipt.map(e=>r`<li>
          <span class="chip good">${this._t("receipt")}</span>
          <span class="code">${e.barcode}</span> ${e.title} · ${this._t("due")} ${e.due}
        </li>`)}
      ${t.refused.map(e=>r`<li>
          <span class="chip bad">${this._t("refused")}</span>
          <span class="code">${e.barcode}</span> ${this._reason(e.reason)}
        </li>`)}
    </ul>`}_renderCheckin(t){return r`<ul class="plain result">
      ${t.checked_in.map(e=>r`<li>
          <span class="chip good">${this._t("scan_checked_in")}</span>
          <span class="code">${e}</span>
        </li>`)}
      ${t.refused.map(e=>r`<li>
          <span class="chip bad">${this._t("refused")}</span>
          <span class="code">${e.barcode}</span> ${this._reason(e.reason)}
        </li>`)}
    </ul>`}_renderRooms(){let t=this._currentSite;return t?r`<section class="card">
      <table class="rooms">
        <thead>
          <tr>
            <th>${this._t("room")}</th>
            <th>${this._t("status")}</th>
            <th>${this._t("holder")}</th>
            <th>${this._t("since")}</th>
            <th>${this._t("lock")}</th>
            <th>${this._t("actions")}</th>
          </tr>
        </thead>
        <tbody>
          ${t.rooms.map(e=>r`<tr data-room=${e.room}>
              <td>
                <strong class="room-id">${e.room}</strong>
                <span class="hint">${e.name} · ${this._t(`kind_${e.kind}`)}${e.floor?` \xB7 ${e.floor}`:""}</span>
              </td>
              <td><span class="status ${e.status}">${this._status(e.status)}</span></td>
              <td>
                ${e.holder?r`<button class="link" @click=${()=>this._open(e.holder)}>
                      ${e.holder}${e.holder_name?` ${e.holder_name}`:""}
                    </button>`:l}
              </td>
              <td>${E(e.since)}</td>
              <td>
                ${this._t(e.lock==="unknown"?"lock_unknown":e.lock)}
                ${e.jammed?r`<span class="chip bad">${this._t("jammed")}</span>`:l}
              </td>
              <td class="actions">
                ${e.kind==="temporary"&&e.status==="in_use"?r`<button
                      class="return"
                      @click=${()=>this._act("return_room",{room:e.room},()=>this._t("done_return",{room:e.room}))}
                    >
                      ${this._t("return_room")}
                    </button>`:l}
                <button class="unlock" @click=${()=>this._askUnlock(e.room)}>
                  ${this._t("unlock")}
                </button>
              </td>
            </tr>`)}
        </tbody>
      </table>
    </section>`:l}_askUnlock(t){this._unlocking=t,this.updateComplete.then(()=>{let e=this.renderRoot.querySelector("dialog");e&&!e.open&&e.showModal(),e?.querySelector(".cancel")?.focus()})}_closeUnlock(){this.renderRoot.querySelector("dialog")?.close(),this._unlocking=void 0}_renderUnlock(){let t=this._unlocking;return r`<dialog @close=${()=>this._unlocking=void 0} lang=${k(this.hass)}>
      ${t?r`<h2>${this._t("unlock_title",{room:t})}</h2>
            <p>${this._t("unlock_text")}</p>
            <div class="buttons">
              <button class="cancel" @click=${()=>this._closeUnlock()}>${this._t("cancel")}</button>
              <button
                class="danger confirm"
                @click=${()=>{this._closeUnlock(),this._act("unlock",{room:t,confirmed:!0},()=>this._t("done_unlock",{room:t}))}}
              >
                ${this._t("unlock_confirm")}
              </button>
            </div>`:l}
    </dialog>`}_renderBoxes(){let t=this._currentSite;return t?t.boxes.length?r`<div class="boxes">
      ${t.boxes.map(e=>{let s=this._scans[e.box];return r`<section class="card box" data-box=${e.box}>
          <h3>${this._t("box_title",{box:e.box})}</h3>
          <h4>${this._t("box_waiting",{count:e.waiting.length})}</h4>
          ${e.waiting.length?r`<table>
                <tbody>
                  ${e.waiting.map(n=>r`<tr>
                      <td class="code">${n.barcode}</td>
                      <td>${n.title}</td>
                      <td>
                        <button class="link" @click=${()=>this._open(n.patron_id)}>
                          ${n.patron_id}
                        </button>
                      </td>
                      <td>${E(n.dropped_at)}</td>
                    </tr>`)}
                </tbody>
              </table>`:r`<p class="hint">${this._t("box_empty")}</p>`}
          <h4>${this._t("box_findings",{count:e.findings.length})}</h4>
          ${e.findings.length?r`<ul class="plain findings">
                ${e.findings.map(n=>r`<li>
                    <span class="code">${n.barcode}</span> ${this._reason(n.reason)}
                  </li>`)}
              </ul>`:r`<p class="hint">${this._t("no_findings")}</p>`}
          <button
            class="scan"
            @click=${async()=>{let n=await this._act("scan_back",{box:e.box},i=>this._t("scan_result",{box:e.box,count:i.checked_in.length}));n&&(this._scans={...this._scans,[e.box]:n})}}
          >
            ${this._t("scan_back",{box:e.box})}
          </button>
          ${s?r`<ul class="plain result scan-result">
                ${s.checked_in.map(n=>r`<li>
                    <span class="chip good">${this._t("scan_checked_in")}</span>
                    <span class="code">${n}</span>
                  </li>`)}
                ${s.flagged.map(n=>r`<li>
                    <span class="chip bad">${this._t("scan_flagged")}</span>
                    <span class="code">${n.barcode}</span> ${this._reason(n.reason)}
                  </li>`)}
              </ul>`:l}
        </section>`})}
    </div>`:r`<p class="hint">${this._t("no_boxes")}</p>`:l}_renderAdd(){let t=this._currentSite;if(this._added){let n=this._added;return r`<section class="card code-card">
        <h3>${this._t("code_title",{patron:n.patron_id})}</h3>
        <p class="activation-code">${n.activation_code}</p>
        <p>${this._t("code_once",{until:E(n.activation_expires)})}</p>
        <button id="code-done" @click=${()=>this._added=void 0}>${this._t("done")}</button>
      </section>`}if(t&&!t.local_directory)return r`<p class="hint">${this._t("directory_elsewhere")}</p>`;let e=k(this.hass),s=[...this._categories].sort((n,i)=>(n[e]||n.en).localeCompare(i[e]||i.en,e));return r`<section class="card">
      <h3>${this._t("add_title")}</h3>
      <form
        class="grid"
        @submit=${async n=>{n.preventDefault();let i=n.target,a={patron_id:i.patron_id.value.trim(),name:i.name.value.trim(),category:i.category.value};i.card.value.trim()&&(a.card=i.card.value.trim()),i.expires.value&&(a.membership_expires=i.expires.value);let h=await this._act("add_patron",a,()=>this._t("added",{patron:a.patron_id}));h&&(this._added={...h,patron_id:a.patron_id},i.reset())}}
      >
        <label>${this._t("patron_id")} <input name="patron_id" required maxlength="32" /></label>
        <label>${this._t("name")} <input name="name" required maxlength="200" /></label>
        <label
          >${this._t("category")}
          <select name="category" required>
            <option value="">${this._t("choose")}</option>
            ${s.map(n=>r`<option value=${n.key}>${n[e]||n.en}</option>`)}
          </select></label
        >
        <label>${this._t("add_card")} <input name="card" autocomplete="off" maxlength="64" /></label>
        <label>${this._t("add_expires")} <input name="expires" type="date" /></label>
        <div><button type="submit">${this._t("add_button")}</button></div>
      </form>
    </section>`}};j(M,"properties",{hass:{attribute:!1},narrow:{type:Boolean},panel:{attribute:!1},route:{attribute:!1},_tab:{state:!0},_sites:{state:!0},_site:{state:!0},_categories:{state:!0},_refused:{state:!0},_query:{state:!0},_matches:{state:!0},_patron:{state:!0},_message:{state:!0},_busy:{state:!0},_lent:{state:!0},_returned:{state:!0},_scans:{state:!0},_added:{state:!0},_unlocking:{state:!0},_localize:{state:!0}}),j(M,"styles",W`
    :host {
      display: block;
      min-height: 100vh;
      background: var(--primary-background-color, #fafafa);
      color: var(--primary-text-color, #212121);
      font-family: var(--paper-font-body1_-_font-family, Roboto, "Noto Sans TC", sans-serif);
      font-size: 14px;
    }
    .toolbar {
      display: flex;
      align-items: center;
      gap: 16px;
      height: 56px;
      padding: 0 16px;
      background: var(--app-header-background-color, var(--primary-color, #03a9f4));
      color: var(--app-header-text-color, #fff);
    }
    h1 {
      font-size: 20px;
      font-weight: 400;
      margin: 0;
      white-space: nowrap;
    }
    .site {
      white-space: nowrap;
    }
    .search {
      display: flex;
      gap: 8px;
      margin-left: auto;
      flex: 0 1 460px;
    }
    .search input {
      flex: 1;
      min-width: 0;
      font-size: 16px;
      padding: 6px 10px;
      border-radius: 4px;
      border: none;
    }
    .tabs {
      display: flex;
      gap: 4px;
      padding: 0 16px;
      border-bottom: 1px solid var(--divider-color, #e0e0e0);
      background: var(--card-background-color, #fff);
      align-items: center;
    }
    .tabs button {
      border: none;
      background: none;
      padding: 12px 16px;
      font-size: 14px;
      color: var(--secondary-text-color, #616161);
      border-bottom: 2px solid transparent;
      border-radius: 0;
    }
    .tabs button[aria-selected="true"] {
      color: var(--primary-color, #03a9f4);
      border-bottom-color: var(--primary-color, #03a9f4);
    }
    .keys {
      margin-left: auto;
      color: var(--secondary-text-color, #757575);
      font-size: 12px;
    }
    main {
      padding: 16px;
      max-width: 1400px;
    }
    .card {
      background: var(--card-background-color, #fff);
      border-radius: var(--ha-card-border-radius, 12px);
      border: 1px solid var(--divider-color, #e0e0e0);
      padding: 12px 16px;
      margin-bottom: 12px;
    }
    .patron {
      display: grid;
      grid-template-columns: minmax(320px, 2fr) 3fr;
      gap: 12px;
      align-items: start;
    }
    .who h2 {
      margin: 0 0 8px;
      font-size: 22px;
    }
    .pid {
      font-family: monospace;
      color: var(--primary-color, #03a9f4);
    }
    dl {
      display: grid;
      grid-template-columns: max-content 1fr;
      gap: 4px 12px;
      margin: 0;
    }
    dt {
      color: var(--secondary-text-color, #757575);
    }
    dd {
      margin: 0;
    }
    h3 {
      font-size: 15px;
      margin: 12px 0 6px;
    }
    h4 {
      font-size: 13px;
      margin: 10px 0 4px;
      color: var(--secondary-text-color, #616161);
    }
    .chip {
      display: inline-block;
      padding: 1px 8px;
      border-radius: 10px;
      background: var(--secondary-background-color, #eee);
      font-size: 12px;
      margin-right: 4px;
    }
    .chip.good {
      background: rgba(67, 160, 71, 0.15);
      color: var(--success-color, #2e7d32);
    }
    .chip.bad {
      background: rgba(219, 68, 55, 0.12);
      color: var(--error-color, #c62828);
    }
    .hint {
      color: var(--secondary-text-color, #757575);
    }
    .hint.big {
      font-size: 16px;
      margin: 32px 0;
    }
    .message {
      padding: 8px 12px;
      border-radius: 8px;
      margin: 0 0 12px;
    }
    .message.ok {
      background: rgba(67, 160, 71, 0.12);
    }
    .message.error {
      background: rgba(219, 68, 55, 0.12);
      color: var(--error-color, #c62828);
    }
    button {
      font: inherit;
      padding: 6px 12px;
      border-radius: 6px;
      border: 1px solid var(--divider-color, #bdbdbd);
      background: var(--card-background-color, #fff);
      color: var(--primary-text-color, #212121);
      cursor: pointer;
    }
    button:focus-visible,
    input:focus-visible,
    select:focus-visible {
      outline: 2px solid var(--primary-color, #03a9f4);
      outline-offset: 1px;
    }
    button[type="submit"],
    button.return,
    button.scan,
    button.confirm {
      background: var(--primary-color, #03a9f4);
      border-color: var(--primary-color, #03a9f4);
      color: var(--text-primary-color, #fff);
    }
    button.danger {
      background: var(--error-color, #c62828);
      border-color: var(--error-color, #c62828);
    }
    button.link {
      border: none;
      background: none;
      padding: 0;
      color: var(--primary-color, #03a9f4);
      text-decoration: underline;
    }
    button:disabled {
      opacity: 0.5;
      cursor: default;
    }
    .toolbar button[type="submit"] {
      background: var(--card-background-color, #fff);
      color: var(--primary-color, #03a9f4);
      border: none;
    }
    form.inline {
      display: flex;
      flex-wrap: wrap;
      gap: 8px;
      align-items: end;
      margin: 6px 0;
    }
    form.inline label,
    form.grid label {
      display: flex;
      flex-direction: column;
      gap: 2px;
      font-size: 12px;
      color: var(--secondary-text-color, #616161);
    }
    form.grid {
      display: grid;
      grid-template-columns: repeat(3, minmax(200px, 1fr));
      gap: 12px;
      align-items: end;
    }
    input,
    select {
      font: inherit;
      font-size: 14px;
      padding: 5px 8px;
      border: 1px solid var(--divider-color, #bdbdbd);
      border-radius: 4px;
      background: var(--card-background-color, #fff);
      color: var(--primary-text-color, #212121);
    }
    #lend-items,
    #return-items {
      width: 320px;
    }
    table {
      border-collapse: collapse;
      width: 100%;
    }
    th,
    td {
      text-align: left;
      padding: 6px 8px;
      border-bottom: 1px solid var(--divider-color, #eee);
      vertical-align: middle;
    }
    th {
      font-weight: 500;
      color: var(--secondary-text-color, #616161);
      font-size: 12px;
    }
    td.actions {
      white-space: nowrap;
      display: flex;
      gap: 6px;
    }
    .rooms .hint {
      display: block;
      font-size: 12px;
    }
    .status.in_use {
      color: var(--warning-color, #ef6c00);
      font-weight: 500;
    }
    .status.reserved {
      color: var(--primary-color, #03a9f4);
    }
    .status.unavailable {
      color: var(--error-color, #c62828);
    }
    .code {
      font-family: monospace;
    }
    ul.plain {
      list-style: none;
      padding: 0;
      margin: 4px 0;
    }
    ul.plain li {
      padding: 4px 0;
      display: flex;
      gap: 8px;
      align-items: center;
      flex-wrap: wrap;
    }
    .matches {
      list-style: none;
      padding: 0;
    }
    .matches button {
      margin: 4px 0;
      width: 100%;
      text-align: left;
    }
    .boxes {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(380px, 1fr));
      gap: 12px;
    }
    .activation-code {
      font-family: monospace;
      font-size: 28px;
      letter-spacing: 2px;
      margin: 8px 0;
    }
    .refused {
      padding: 32px 16px;
    }
    dialog {
      border: none;
      border-radius: 12px;
      padding: 20px 24px;
      max-width: 440px;
      background: var(--card-background-color, #fff);
      color: var(--primary-text-color, #212121);
    }
    dialog::backdrop {
      background: rgba(0, 0, 0, 0.4);
    }
    dialog h2 {
      font-size: 18px;
      margin: 0 0 8px;
    }
    .buttons {
      display: flex;
      justify-content: flex-end;
      gap: 8px;
      margin-top: 16px;
    }
    @media (max-width: 900px) {
      .patron {
        grid-template-columns: 1fr;
      }
      form.grid {
        grid-template-columns: 1fr;
      }
      .keys {
        display: none;
      }
    }
  `);customElements.get("ntnu-library-counter")||customElements.define("ntnu-library-counter",M);
