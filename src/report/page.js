(function(){
var fp=document.getElementById('f-port'),fi=document.getElementById('f-pid'),
fc=document.getElementById('f-close'),fg=document.getElementById('f-cgroup'),
out=document.getElementById('f-count');
function has(el,attr,list){if(!list.length)return true;
 var w=' '+(el.getAttribute(attr)||'')+' ';
 for(var i=0;i<list.length;i++)if(w.indexOf(' '+list[i]+' ')>=0)return true;return false;}
function part(el,attr,s){return !s||(el.getAttribute(attr)||'').toLowerCase().indexOf(s)>=0;}
function words(s){return s.split(/[\s,]+/).filter(function(x){return x.length>0;});}
function apply(){var p=words(fp.value),q=words(fi.value),c=fc.value?[fc.value]:[],
 g=fg.value.trim().toLowerCase();
 var els=document.querySelectorAll('[data-ports]'),nf=0,sf=0,nr=0,sr=0;
 for(var i=0;i<els.length;i++){var e=els[i],ok=has(e,'data-ports',p)&&has(e,'data-pids',q)&&
  has(e,'data-close',c)&&part(e,'data-cgroup',g);e.classList.toggle('hide',!ok);
  if(e.tagName==='FIGURE'){nf++;if(ok)sf++;}else{nr++;if(ok)sr++;}}
 out.textContent=sf+' of '+nf+' diagrams, '+sr+' of '+nr+' table rows shown';}
fp.addEventListener('input',apply);fi.addEventListener('input',apply);
fc.addEventListener('change',apply);fg.addEventListener('input',apply);apply();
})();
